/**
 * The version table: one row per applied migration. Identifiers are validated by the config
 * schema and always passed through `sql.identifier`, never interpolated.
 */
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { rawQuery } from '../db/pools.ts';
import { versionTableDdl, type VersionTable } from '../../sql/ddl.ts';
import type { AppliedMigration } from '../../model/migration.ts';

function versionTableIdentifier(versionTable: VersionTable) {
  return sql.identifier([versionTable.schema, versionTable.table]);
}

/** Whether the version table exists. */
export async function versionTableExists(
  connection: CommonQueryMethods,
  versionTable: VersionTable,
): Promise<boolean> {
  return tableExists(connection, versionTable.schema, versionTable.table);
}

/** Whether `schema.name` is a table (plain or partitioned). */
export async function tableExists(
  connection: CommonQueryMethods,
  schema: string,
  name: string,
): Promise<boolean> {
  return connection.exists(sql.unsafe`
    select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relname = ${name} and c.relkind in ('r', 'p')`);
}

/**
 * Create the schema and version table if they are missing. Call it while holding the run's
 * lock: `create ... if not exists` alone still races on the catalog's unique index.
 */
export async function ensureVersionTable(
  connection: CommonQueryMethods,
  versionTable: VersionTable,
): Promise<void> {
  // `create schema if not exists` needs CREATE on the database even when the schema exists.
  const schemaExists = await connection.exists(
    sql.unsafe`select 1 from pg_namespace where nspname = ${versionTable.schema}`,
  );
  if (!schemaExists)
    await connection.query(
      sql.unsafe`create schema if not exists ${sql.identifier([versionTable.schema])}`,
    );
  await connection.query(rawQuery(versionTableDdl(versionTable)));
}

const appliedRow = z.object({
  version: z.string(),
  name: z.string(),
  checksum: z.string(),
  applied_at: z.string(),
  duration_ms: z.number(),
  applied_by: z.string(),
});

/** Every row of the version table, oldest version first. */
export async function readApplied(
  connection: CommonQueryMethods,
  versionTable: VersionTable,
): Promise<AppliedMigration[]> {
  const rows = await connection.any(sql.type(appliedRow)`
    select version, name, checksum,
      to_char(applied_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as applied_at,
      duration_ms, applied_by
    from ${versionTableIdentifier(versionTable)} order by version`);
  return rows.map((row) => ({
    version: row.version,
    name: row.name,
    checksum: row.checksum,
    appliedAt: row.applied_at,
    durationMs: row.duration_ms,
    appliedBy: row.applied_by,
  }));
}

/** Record an applied migration, in the migration's own transaction. */
export async function insertApplied(
  connection: CommonQueryMethods,
  versionTable: VersionTable,
  row: {
    version: string;
    name: string;
    checksum: string;
    durationMs: number;
    appliedBy: string | null;
  },
): Promise<void> {
  await connection.query(sql.unsafe`
    insert into ${versionTableIdentifier(versionTable)}
      (version, name, checksum, duration_ms, applied_by)
    values (${row.version}, ${row.name}, ${row.checksum}, ${Math.round(row.durationMs)},
      coalesce(${row.appliedBy}, current_user))`);
}

/** Whether `version` is recorded as applied. */
export async function isApplied(
  connection: CommonQueryMethods,
  versionTable: VersionTable,
  version: string,
): Promise<boolean> {
  return connection.exists(
    sql.unsafe`select 1 from ${versionTableIdentifier(versionTable)} where version = ${version}`,
  );
}

/** Forget an applied migration (after its down ran, or by stamp/repair). */
export async function deleteApplied(
  connection: CommonQueryMethods,
  versionTable: VersionTable,
  version: string,
): Promise<void> {
  await connection.query(
    sql.unsafe`delete from ${versionTableIdentifier(versionTable)} where version = ${version}`,
  );
}

/** Accept a new checksum for an applied migration (repair). */
export async function updateChecksum(
  connection: CommonQueryMethods,
  versionTable: VersionTable,
  version: string,
  checksum: string,
): Promise<void> {
  await connection.query(
    sql.unsafe`
      update ${versionTableIdentifier(versionTable)} set checksum = ${checksum}
      where version = ${version}`,
  );
}
