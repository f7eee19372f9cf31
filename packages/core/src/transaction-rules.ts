/**
 * Statements PostgreSQL refuses inside a transaction block. Found by the parser in
 * transactional migrations and refused before anything runs: otherwise the run would fail
 * midway with SQLSTATE 25001, after the earlier migrations of the run.
 */

type Node = Record<string, unknown>;

const hasConcurrentlyParam = (node: Node): boolean =>
  Array.isArray(node.params) &&
  node.params.some((param) => (param as { DefElem?: { defname?: string } }).DefElem?.defname === 'concurrently');

const RULES: Record<string, (node: Node) => string | null> = {
  IndexStmt: (node) => (node.concurrent === true ? 'CREATE INDEX CONCURRENTLY' : null),
  DropStmt: (node) => (node.concurrent === true ? 'DROP INDEX CONCURRENTLY' : null),
  ReindexStmt: (node) => {
    if (hasConcurrentlyParam(node)) return 'REINDEX ... CONCURRENTLY';
    if (node.kind === 'REINDEX_OBJECT_DATABASE' || node.kind === 'REINDEX_OBJECT_SYSTEM') return 'REINDEX DATABASE/SYSTEM';
    return null;
  },
  CreatedbStmt: () => 'CREATE DATABASE',
  DropdbStmt: () => 'DROP DATABASE',
  VacuumStmt: (node) => (node.is_vacuumcmd === true ? 'VACUUM' : null),
  AlterSystemStmt: () => 'ALTER SYSTEM',
  CreateTableSpaceStmt: () => 'CREATE TABLESPACE',
  DropTableSpaceStmt: () => 'DROP TABLESPACE',
  ClusterStmt: (node) => (node.relation === undefined ? 'CLUSTER (without a table)' : null),
  AlterDatabaseStmt: (node) =>
    Array.isArray(node.options) && node.options.some((option) => (option as { DefElem?: { defname?: string } }).DefElem?.defname === 'tablespace')
      ? 'ALTER DATABASE ... SET TABLESPACE'
      : null,
  DiscardStmt: (node) => (node.target === 'DISCARD_ALL' ? 'DISCARD ALL' : null),
  CreateSubscriptionStmt: () => 'CREATE SUBSCRIPTION',
  DropSubscriptionStmt: () => 'DROP SUBSCRIPTION',
};

/**
 * The name of the statement if PostgreSQL refuses to run it inside a transaction block, else
 * null. `kind` and `node` are the parse node's type and body, as libpg-query returns them.
 */
export function nonTransactionalStatement(kind: string, node: unknown): string | null {
  const rule = RULES[kind];
  return rule === undefined || typeof node !== 'object' || node === null ? null : rule(node as Node);
}
