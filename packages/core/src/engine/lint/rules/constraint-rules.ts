/**
 * Constraints added to an existing table: a foreign key or a check validated at once (a full
 * scan under a lock), `SET NOT NULL` without a validated check (a scan under ACCESS EXCLUSIVE), a
 * `UNIQUE` or `PRIMARY KEY` that builds its index under ACCESS EXCLUSIVE.
 */
import {
  alterCommands,
  altersTable,
  listOf,
  numberOf,
  stringOf,
  tableOf,
  unwrap,
  type Node,
  type TableRef,
} from '../nodes.ts';
import { olderThan, type Hit, type Rule, type RuleContext } from '../rule.ts';

type Added = { readonly constraint: Node; readonly inColumn: boolean };

/** The constraints an `ALTER TABLE` adds: `ADD CONSTRAINT` and those of its new columns. */
function addedConstraints(node: Node): Added[] {
  return alterCommands(node).flatMap((cmd): Added[] => {
    const subtype = stringOf(cmd, 'subtype');
    if (subtype === 'AT_AddConstraint') {
      const constraint = unwrap(cmd.def, 'Constraint');
      return constraint === undefined ? [] : [{ constraint, inColumn: false }];
    }
    if (subtype !== 'AT_AddColumn') return [];
    return listOf(unwrap(cmd.def, 'ColumnDef'), 'constraints').flatMap((item): Added[] => {
      const constraint = unwrap(item, 'Constraint');
      return constraint === undefined ? [] : [{ constraint, inColumn: true }];
    });
  });
}

/** The existing table an `ALTER TABLE` changes, or undefined (not a table, or created here). */
export function alteredTable(kind: string, node: Node, context: RuleContext): TableRef | undefined {
  if (kind !== 'AlterTableStmt' || !altersTable(node)) return undefined;
  const table = tableOf(node.relation);
  return context.created.hasTable(table) ? undefined : table;
}

/** `foreign-key-not-valid` and `check-not-valid`: constraints validated as they are added. */
export const constraintNotValid: Rule = ({ kind, node }, context) => {
  const table = alteredTable(kind, node, context);
  if (table === undefined) return [];
  return addedConstraints(node).flatMap(({ constraint, inColumn }): Hit[] => {
    if (constraint.skip_validation === true) return [];
    const contype = stringOf(constraint, 'contype');
    const location = numberOf(constraint, 'location');
    if (contype === 'CONSTR_FOREIGN')
      return [
        {
          rule: 'foreign-key-not-valid',
          message:
            `adding a foreign key to ${table.name} without NOT VALID scans the whole table ` +
            'while holding SHARE ROW EXCLUSIVE on it and on the referenced table (writes wait)',
          location,
          table,
        },
      ];
    // A CHECK on a column the same statement adds cannot be NOT VALID; what it costs is the cost
    // of adding the column (volatile-default).
    if (contype === 'CONSTR_CHECK' && !inColumn)
      return [
        {
          rule: 'check-not-valid',
          message:
            `adding a CHECK to ${table.name} without NOT VALID scans the whole table under ` +
            'ACCESS EXCLUSIVE: reads and writes wait',
          location,
          table,
        },
      ];
    return [];
  });
};

/** `unique-without-index`: `UNIQUE` or `PRIMARY KEY` added by building its index under the lock. */
export const uniqueWithoutIndex: Rule = ({ kind, node }, context) => {
  const table = alteredTable(kind, node, context);
  if (table === undefined) return [];
  return addedConstraints(node).flatMap(({ constraint }): Hit[] => {
    const contype = stringOf(constraint, 'contype');
    if (contype !== 'CONSTR_UNIQUE' && contype !== 'CONSTR_PRIMARY') return [];
    if (stringOf(constraint, 'indexname') !== undefined) return [];
    const what = contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY';
    return [
      {
        rule: 'unique-without-index',
        message:
          `adding ${what} to ${table.name} without USING INDEX builds its index under ACCESS ` +
          'EXCLUSIVE: reads and writes wait for the whole build',
        location: numberOf(constraint, 'location'),
        table,
      },
    ];
  });
};

/** `set-not-null-without-check`: `SET NOT NULL` with no validated `CHECK (column IS NOT NULL)`. */
export const setNotNullWithoutCheck: Rule = ({ kind, node }, context) => {
  const table = alteredTable(kind, node, context);
  if (table === undefined) return [];
  return alterCommands(node).flatMap((cmd): Hit[] => {
    const column = stringOf(cmd, 'name');
    if (stringOf(cmd, 'subtype') !== 'AT_SetNotNull' || column === undefined) return [];
    const checked = context.notNullChecks.isValidated(table, column);
    if (checked && !olderThan(context, 12)) return [];
    return [
      {
        rule: 'set-not-null-without-check',
        message: checked
          ? `SET NOT NULL on ${table.name}.${column} scans the table under ACCESS EXCLUSIVE ` +
            'before PostgreSQL 12, even with a validated check'
          : `SET NOT NULL on ${table.name}.${column} scans the whole table under ACCESS ` +
            'EXCLUSIVE: reads and writes wait',
        table,
      },
    ];
  });
};

/** The column a `CHECK (column IS NOT NULL)` is about, or undefined for any other check. */
function notNullColumn(constraint: Node): string | undefined {
  const test = unwrap(constraint.raw_expr, 'NullTest');
  if (stringOf(test, 'nulltesttype') !== 'IS_NOT_NULL') return undefined;
  const fields = listOf(unwrap(test?.arg, 'ColumnRef'), 'fields');
  if (fields.length !== 1) return undefined;
  return stringOf(unwrap(fields[0], 'String'), 'sval');
}

/**
 * Record the not-null checks a statement adds or validates (on any table: one created here is
 * as good), for {@link setNotNullWithoutCheck} later in the run.
 */
export function trackNotNullChecks(kind: string, node: Node, context: RuleContext): void {
  if (kind !== 'AlterTableStmt') return;
  const table = tableOf(node.relation);
  if (table === undefined) return;
  for (const cmd of alterCommands(node)) {
    const subtype = stringOf(cmd, 'subtype');
    const name = stringOf(cmd, 'name');
    if (subtype === 'AT_ValidateConstraint' && name !== undefined)
      context.notNullChecks.validate(table, name);
    const constraint = unwrap(cmd.def, 'Constraint');
    if (subtype !== 'AT_AddConstraint' || constraint === undefined) continue;
    const column = notNullColumn(constraint);
    if (column === undefined) continue;
    const validated = constraint.skip_validation !== true;
    context.notNullChecks.add(table, column, stringOf(constraint, 'conname'), validated);
  }
}
