/**
 * Column changes that rewrite the table under ACCESS EXCLUSIVE: a type change, and a new column
 * whose default must be computed per row (a volatile function, `serial`, identity, a stored
 * generated column; before PostgreSQL 11, any default).
 */
import {
  alterCommands,
  asNode,
  findAll,
  listOf,
  names,
  numberOf,
  stringOf,
  unwrap,
  type Node,
} from '../nodes.ts';
import { olderThan, type Hit, type Rule } from '../rule.ts';
import { alteredTable } from './constraint-rules.ts';

/** `column-type-change`: `ALTER COLUMN ... TYPE` on an existing table. */
export const columnTypeChange: Rule = ({ kind, node }, context) => {
  const table = alteredTable(kind, node, context);
  if (table === undefined) return [];
  return alterCommands(node).flatMap((cmd): Hit[] => {
    if (stringOf(cmd, 'subtype') !== 'AT_AlterColumnType') return [];
    const column = unwrap(cmd.def, 'ColumnDef');
    const type = typeNameOf(column);
    return [
      {
        rule: 'column-type-change',
        message:
          `changing the type of ${table.name}.${stringOf(cmd, 'name') ?? '?'} to ` +
          `${type.at(-1) ?? '?'} rewrites the table and its indexes under ACCESS EXCLUSIVE, ` +
          'unless the old type converts without one',
        location: numberOf(column, 'location'),
        table,
      },
    ];
  });
};

/** The parts of a `ColumnDef`'s type name (`["pg_catalog", "int8"]`); libpg-query gives it unwrapped. */
function typeNameOf(column: Node | undefined): string[] {
  return names(listOf(asNode(column?.typeName), 'names'));
}

/** Functions whose value differs per row: a default calling one is computed for every row. */
const VOLATILE_FUNCTIONS = new Set([
  'random',
  'random_normal',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'gen_random_bytes',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'txid_current',
  'pg_current_xact_id',
]);

/** Types that attach a sequence: each existing row gets its own value. */
const SERIAL_TYPES = new Set([
  'serial',
  'serial2',
  'serial4',
  'serial8',
  'smallserial',
  'bigserial',
]);

/** Why adding this column rewrites the table, or undefined when it does not. */
function rewriteReason(column: Node, beforeFastDefaults: boolean): string | undefined {
  const type = typeNameOf(column).at(-1);
  if (type !== undefined && SERIAL_TYPES.has(type))
    return `its type ${type} fills every row from a sequence`;
  for (const item of listOf(column, 'constraints')) {
    const constraint = unwrap(item, 'Constraint');
    const contype = stringOf(constraint, 'contype');
    if (contype === 'CONSTR_IDENTITY') return 'an identity column fills every row from a sequence';
    if (contype === 'CONSTR_GENERATED')
      return 'a stored generated column is computed for every row';
    if (contype !== 'CONSTR_DEFAULT') continue;
    const volatile = findAll(constraint?.raw_expr, 'FuncCall')
      .map((call) => names(listOf(call, 'funcname')).at(-1))
      .find((name) => name !== undefined && VOLATILE_FUNCTIONS.has(name));
    if (volatile !== undefined) return `its default calls ${volatile}(), computed for every row`;
    const isNull = unwrap(constraint?.raw_expr, 'A_Const')?.isnull === true;
    if (beforeFastDefaults && !isNull)
      return 'before PostgreSQL 11, any default is written into every row';
  }
  return undefined;
}

/** `volatile-default`: `ADD COLUMN` whose value must be computed and written for every row. */
export const volatileDefault: Rule = ({ kind, node }, context) => {
  const table = alteredTable(kind, node, context);
  if (table === undefined) return [];
  return alterCommands(node).flatMap((cmd): Hit[] => {
    if (stringOf(cmd, 'subtype') !== 'AT_AddColumn') return [];
    const column = unwrap(cmd.def, 'ColumnDef');
    if (column === undefined) return [];
    const reason = rewriteReason(column, olderThan(context, 11));
    if (reason === undefined) return [];
    return [
      {
        rule: 'volatile-default',
        message:
          `adding column ${stringOf(column, 'colname') ?? '?'} to ${table.name} rewrites the ` +
          `table under ACCESS EXCLUSIVE: ${reason}`,
        location: numberOf(column, 'location'),
        table,
      },
    ];
  });
};
