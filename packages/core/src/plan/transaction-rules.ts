/**
 * Statements PostgreSQL refuses inside a transaction block. Found by the parser in
 * transactional migrations and refused before anything runs: otherwise the run would fail
 * midway with SQLSTATE 25001, after the earlier migrations of the run.
 */

type Node = Record<string, unknown>;

const hasConcurrentlyParam = (node: Node): boolean =>
  Array.isArray(node.params) &&
  node.params.some(
    (param) => (param as { DefElem?: { defname?: string } }).DefElem?.defname === 'concurrently',
  );

/** Transaction control that ends or starts a transaction (not savepoints). */
const TRANSACTION_CONTROL: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

/** Whether a refused statement (a name from {@link nonTransactionalStatement}) is transaction control. */
export function isTransactionControl(statement: string): boolean {
  return Object.values(TRANSACTION_CONTROL).includes(statement);
}

const RULES: Record<string, (node: Node) => string | null> = {
  IndexStmt: (node) => (node.concurrent === true ? 'CREATE INDEX CONCURRENTLY' : null),
  DropStmt: (node) => (node.concurrent === true ? 'DROP INDEX CONCURRENTLY' : null),
  ReindexStmt: (node) => {
    if (hasConcurrentlyParam(node)) return 'REINDEX ... CONCURRENTLY';
    if (node.kind === 'REINDEX_OBJECT_DATABASE' || node.kind === 'REINDEX_OBJECT_SYSTEM')
      return 'REINDEX DATABASE/SYSTEM';
    return null;
  },
  AlterTableStmt: (node) =>
    Array.isArray(node.cmds) &&
    node.cmds.some((cmd) => {
      const command = (
        cmd as {
          AlterTableCmd?: { subtype?: string; def?: { PartitionCmd?: { concurrent?: boolean } } };
        }
      ).AlterTableCmd;
      return (
        command?.subtype === 'AT_DetachPartition' && command.def?.PartitionCmd?.concurrent === true
      );
    })
      ? 'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY'
      : null,
  CreatedbStmt: () => 'CREATE DATABASE',
  DropdbStmt: () => 'DROP DATABASE',
  VacuumStmt: (node) => (node.is_vacuumcmd === true ? 'VACUUM' : null),
  AlterSystemStmt: () => 'ALTER SYSTEM',
  CreateTableSpaceStmt: () => 'CREATE TABLESPACE',
  DropTableSpaceStmt: () => 'DROP TABLESPACE',
  ClusterStmt: (node) => (node.relation === undefined ? 'CLUSTER (without a table)' : null),
  AlterDatabaseStmt: (node) =>
    Array.isArray(node.options) &&
    node.options.some(
      (option) => (option as { DefElem?: { defname?: string } }).DefElem?.defname === 'tablespace',
    )
      ? 'ALTER DATABASE ... SET TABLESPACE'
      : null,
  DiscardStmt: (node) => (node.target === 'DISCARD_ALL' ? 'DISCARD ALL' : null),
  // The migration's transaction is offloop's: a COMMIT inside it would commit half of the
  // migration apart from its version row. Savepoints are fine.
  TransactionStmt: (node) => TRANSACTION_CONTROL[String(node.kind)] ?? null,
  CreateSubscriptionStmt: () => 'CREATE SUBSCRIPTION',
  DropSubscriptionStmt: () => 'DROP SUBSCRIPTION',
};

/**
 * Whether a statement builds an index concurrently (`CREATE INDEX CONCURRENTLY`,
 * `REINDEX ... CONCURRENTLY`): one that, failed or cancelled, leaves an INVALID index behind.
 */
export function isConcurrentIndexBuild(kind: string, node: unknown): boolean {
  if (typeof node !== 'object' || node === null) return false;
  if (kind === 'IndexStmt') return (node as Node).concurrent === true;
  return kind === 'ReindexStmt' && hasConcurrentlyParam(node as Node);
}

/**
 * The name of the statement if PostgreSQL refuses to run it inside a transaction block, else
 * null. `kind` and `node` are the parse node's type and body, as libpg-query returns them.
 */
export function nonTransactionalStatement(kind: string, node: unknown): string | null {
  const rule = RULES[kind];
  return rule === undefined || typeof node !== 'object' || node === null
    ? null
    : rule(node as Node);
}

const MODULE_TRANSACTION_CONTROL: Record<string, string> = {
  ...TRANSACTION_CONTROL,
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE SAVEPOINT',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK TO SAVEPOINT',
};

/**
 * The name of a statement a transactional JavaScript/TypeScript migration may not send through
 * `ctx.connection`, else null: anything that ends or starts a transaction, raw savepoints (slonik
 * keeps its own for `ctx.connection.transaction()`, and a `RELEASE` or `ROLLBACK TO` of one of
 * them would undo what it tracks), and `SET TRANSACTION` / `SET SESSION CHARACTERISTICS`, which
 * change the transaction offloop opened. `DISCARD ALL` would drop the run's work lock.
 */
export function moduleTransactionControl(kind: string, node: unknown): string | null {
  if (typeof node !== 'object' || node === null) return null;
  const body = node as Node;
  if (kind === 'TransactionStmt') return MODULE_TRANSACTION_CONTROL[String(body.kind)] ?? null;
  if (kind === 'VariableSetStmt' && body.name === 'TRANSACTION') return 'SET TRANSACTION';
  if (kind === 'VariableSetStmt' && body.name === 'SESSION CHARACTERISTICS')
    return 'SET SESSION CHARACTERISTICS';
  if (kind === 'DiscardStmt' && body.target === 'DISCARD_ALL') return 'DISCARD ALL';
  return null;
}
