/**
 * Concurrent index builds in a non-transactional migration: the INVALID indexes a failed build
 * leaves, and the check that a build that succeeded left a valid index.
 */
import type { Statement } from '../../model/prepared.ts';
import { quoteIdentifier } from '../../sql/ddl.ts';
import type { Db } from '../db/db.ts';
import { sql } from '../db/sql.ts';

/** The table a concurrent index build works on, and the index it names, as SQL text to resolve. */
function indexBuildTarget(statement: Statement): { relation: string; index: string | null } | null {
  const node = statement.node as {
    idxname?: string;
    relation?: { schemaname?: string; relname?: string };
  } | null;
  if (node === null || typeof node !== 'object' || node.relation?.relname === undefined)
    return null;
  const qualify = (name: string) =>
    node.relation?.schemaname === undefined
      ? quoteIdentifier(name)
      : `${quoteIdentifier(node.relation.schemaname)}.${quoteIdentifier(name)}`;
  const index =
    statement.kind === 'IndexStmt' && typeof node.idxname === 'string' && node.idxname !== ''
      ? qualify(node.idxname)
      : null;
  return { relation: qualify(node.relation.relname), index };
}

/**
 * The INVALID indexes on the table of a `CREATE INDEX CONCURRENTLY` or `REINDEX ... CONCURRENTLY`
 * (for `REINDEX INDEX`, the table of that index). A failed or cancelled build leaves its new
 * index there: compared with the same list taken before the statement, it names what the run left.
 */
export async function invalidIndexes(connection: Db, statement: Statement): Promise<string[]> {
  const target = indexBuildTarget(statement);
  if (target === null) return [];
  const table = sql`coalesce(
    (select indrelid from pg_index where indexrelid = to_regclass(${target.relation})),
    to_regclass(${target.relation}))`;
  return [
    ...(await connection.column<string>(sql`
    select i.indexrelid::regclass::text as name from pg_index i
    where not i.indisvalid and i.indrelid = ${table}`)),
  ];
}

/**
 * After a concurrent index build that succeeded, the index it names must be valid. It is not
 * when `if not exists` skipped an INVALID index an earlier failed build left: the migration would
 * be recorded with an index that does not work (a unique one would not be enforced).
 */
export async function assertIndexValid(connection: Db, statement: Statement): Promise<void> {
  const target = indexBuildTarget(statement);
  if (target?.index === null || target === null) return;
  const [row] = await connection.rows<{ valid: boolean }>(sql`
    select indisvalid as valid from pg_index where indexrelid = to_regclass(${target.index})`);
  if (row?.valid === false) {
    throw new Error(
      `the index ${target.index} exists but is INVALID, left by an earlier ` +
        'failed build (the statement skipped it): drop it (drop index concurrently ' +
        `${target.index}) and run again`,
    );
  }
}
