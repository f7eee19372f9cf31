/**
 * Rules about the migration as a whole: what a transaction holds while the rest of it runs, what
 * cannot run in one, and timeouts where offloop runs statements one at a time.
 */
import {
  alterCommands,
  altersTable,
  hasOption,
  listOf,
  names,
  numberOf,
  stringOf,
  tableOf,
  unwrap,
  type Node,
  type TableRef,
} from '../nodes.ts';
import { isConcurrentIndexBuild } from '../../../plan/transaction-rules.ts';
import { olderThan, type LintStatement, type Rule, type RuleContext } from '../rule.ts';

/** `ALTER TABLE` subcommands that take less than ACCESS EXCLUSIVE (the PostgreSQL docs' table). */
const WEAKER_ALTERS = new Set([
  'AT_ValidateConstraint',
  'AT_SetStatistics',
  'AT_SetOptions',
  'AT_ResetOptions',
  'AT_SetRelOptions',
  'AT_ResetRelOptions',
  'AT_ClusterOn',
  'AT_DropCluster',
  'AT_AttachPartition',
  'AT_DetachPartition',
  'AT_EnableTrig',
  'AT_EnableAlwaysTrig',
  'AT_EnableReplicaTrig',
  'AT_DisableTrig',
  'AT_EnableTrigAll',
  'AT_DisableTrigAll',
  'AT_EnableTrigUser',
  'AT_DisableTrigUser',
]);

/** `LOCK TABLE`'s mode number for ACCESS EXCLUSIVE (its default). */
const ACCESS_EXCLUSIVE_MODE = 8;

/** Whether an `ALTER TABLE` subcommand takes ACCESS EXCLUSIVE. */
function alterIsExclusive(cmd: Node): boolean {
  const subtype = stringOf(cmd, 'subtype') ?? '';
  if (WEAKER_ALTERS.has(subtype)) return false;
  // A foreign key takes SHARE ROW EXCLUSIVE.
  const constraint = unwrap(cmd.def, 'Constraint');
  return !(subtype === 'AT_AddConstraint' && stringOf(constraint, 'contype') === 'CONSTR_FOREIGN');
}

/** The existing table a statement takes ACCESS EXCLUSIVE on, or undefined. */
function exclusiveTable({ kind, node }: LintStatement, context: RuleContext): TableRef | undefined {
  const single = (table: TableRef | undefined): TableRef | undefined =>
    table === undefined || context.created.hasTable(table) ? undefined : table;
  const first = (key: string): TableRef | undefined =>
    single(tableOf(unwrap(listOf(node, key)[0], 'RangeVar')));
  switch (kind) {
    case 'AlterTableStmt':
      return altersTable(node) && alterCommands(node).some(alterIsExclusive)
        ? single(tableOf(node.relation))
        : undefined;
    case 'RenameStmt':
      return ['OBJECT_TABLE', 'OBJECT_COLUMN'].includes(stringOf(node, 'renameType') ?? '')
        ? single(tableOf(node.relation))
        : undefined;
    case 'DropStmt': {
      if (stringOf(node, 'removeType') !== 'OBJECT_TABLE') return undefined;
      const parts = names(listOf(unwrap(listOf(node, 'objects')[0], 'List'), 'items'));
      const relname = parts.at(-1);
      return relname === undefined
        ? undefined
        : single({ name: parts.join('.'), schema: parts.at(-2), relname, location: undefined });
    }
    case 'TruncateStmt':
      return first('relations');
    case 'LockStmt':
      return (numberOf(node, 'mode') ?? ACCESS_EXCLUSIVE_MODE) === ACCESS_EXCLUSIVE_MODE
        ? first('relations')
        : undefined;
    case 'VacuumStmt':
      return hasOption(node, 'options', 'full')
        ? single(tableOf(unwrap(listOf(node, 'rels')[0], 'VacuumRelation')?.relation))
        : undefined;
    case 'ClusterStmt':
      return single(tableOf(node.relation));
    default:
      return undefined;
  }
}

/** Statements that only touch the catalog, quickly: fine after a lock is taken. */
const CATALOG_ONLY = new Set([
  'VariableSetStmt',
  'CommentStmt',
  'GrantStmt',
  'GrantRoleStmt',
  'ViewStmt',
  'CreateStmt',
  'CreateFunctionStmt',
  'CreateSeqStmt',
  'AlterSeqStmt',
]);

/** Statements that change the locked table itself, quickly (their own rules cover a rewrite). */
const SAME_TABLE = new Set(['AlterTableStmt', 'RenameStmt', 'CreateTrigStmt', 'CommentStmt']);

/** Whether `statement` does real work (data, scans, other tables) while `locked` is held. */
function isMoreWork(statement: LintStatement, locked: TableRef): boolean {
  if (CATALOG_ONLY.has(statement.kind)) return false;
  if (!SAME_TABLE.has(statement.kind)) return true;
  return tableOf(statement.node.relation)?.relname !== locked.relname;
}

/**
 * `exclusive-lock-then-more`: in a transactional migration, a statement that takes ACCESS
 * EXCLUSIVE on an existing table, followed by more work: the lock is held until the commit, and
 * every query on the table waits for all of it.
 */
export const exclusiveLockThenMore: Rule = (statement, context) => {
  if (!context.transactional) return [];
  const locked = exclusiveTable(statement, context);
  if (locked === undefined) return [];
  // Reported once per table, at the statement that takes the lock first.
  const lockedBefore = context.statements
    .slice(0, statement.index)
    .some((earlier) => exclusiveTable(earlier, context)?.relname === locked.relname);
  if (lockedBefore) return [];
  const later = context.statements
    .slice(statement.index + 1)
    .filter((next) => isMoreWork(next, locked));
  if (later.length === 0) return [];
  return [
    {
      rule: 'exclusive-lock-then-more',
      message:
        `this statement takes ACCESS EXCLUSIVE on ${locked.name}, held until the migration ` +
        `commits, and ${later.length} more statement${later.length === 1 ? '' : 's'} ` +
        `(${[...new Set(later.map((next) => next.kind))].join(', ')}) run after it: every ` +
        'query on the table waits for all of them',
      location: locked.location,
    },
  ];
};

/** `enum-value-in-transaction`: `ALTER TYPE ... ADD VALUE` in a transaction before PostgreSQL 12. */
export const enumValueInTransaction: Rule = ({ kind, node }, context) => {
  if (kind !== 'AlterEnumStmt' || stringOf(node, 'oldVal') !== undefined) return [];
  if (!context.transactional || !olderThan(context, 12)) return [];
  return [
    {
      rule: 'enum-value-in-transaction',
      message:
        `ALTER TYPE ${names(listOf(node, 'typeName')).join('.')} ADD VALUE cannot run inside ` +
        `a transaction block on PostgreSQL ${context.postgresVersion ?? '?'} (before 12): the ` +
        'migration fails',
    },
  ];
};

/**
 * Statements that need no `lock_timeout`: concurrent index builds and drops take SHARE UPDATE
 * EXCLUSIVE, which no application read or write waits for, and a timeout would fail a build
 * halfway and leave an INVALID index (offloop gives them no short timeout; docs/locking.md).
 */
function queuesNoQueries({ kind, node }: LintStatement): boolean {
  if (kind === 'VariableSetStmt' || isConcurrentIndexBuild(kind, node)) return true;
  return (
    kind === 'DropStmt' &&
    stringOf(node, 'removeType') === 'OBJECT_INDEX' &&
    node.concurrent === true
  );
}

/** Whether a statement sets `lock_timeout`. */
function setsLockTimeout({ kind, node }: LintStatement): boolean {
  return kind === 'VariableSetStmt' && stringOf(node, 'name') === 'lock_timeout';
}

/**
 * `missing-lock-timeout`: a non-transactional migration with no `lock_timeout` (marker line,
 * configuration, or a `SET` in the file). Reported once, at its first statement. Without a
 * transaction there is no rollback to retry: a statement stuck behind a long transaction stalls
 * every query on its table for as long as it waits.
 */
export const missingLockTimeout: Rule = (statement, context) => {
  if (statement.index !== 0 || context.transactional) return [];
  if (context.options.lockTimeout !== null || context.configLockTimeout > 0) return [];
  if (context.statements.some(setsLockTimeout)) return [];
  if (context.statements.every(queuesNoQueries)) return [];
  return [
    {
      rule: 'missing-lock-timeout',
      message:
        'this migration runs outside a transaction with no lock_timeout: a statement waiting ' +
        'for a lock behind a long transaction makes every query on its table wait too',
    },
  ];
};
