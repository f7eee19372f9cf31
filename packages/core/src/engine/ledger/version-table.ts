/**
 * The version table: one row per applied migration. Identifiers are validated by the config
 * schema and always quoted by `identifier`, never interpolated.
 */
import { logTableOf, type VersionTable } from '../../sql/ddl.ts';
import { createHash } from 'node:crypto';
import type { AppliedMigration, MigrationFile } from '../../model/migration.ts';
import type { Db } from '../db/db.ts';
import { identifier, raw, sql } from '../db/sql.ts';

function versionTableIdentifier(versionTable: VersionTable) {
  return identifier(versionTable.schema, versionTable.table);
}

/** What of the run's ledger exists: its schema, the version table and its log. */
export type LedgerTables = {
  readonly schema: boolean;
  readonly versionTable: boolean;
  readonly logTable: boolean;
};

/** Which of the run's ledger (its schema and two tables) exists, in one round trip. */
export async function ledgerTables(
  connection: Db,
  versionTable: VersionTable,
): Promise<LedgerTables> {
  // No row: no schema. A row with a null name: the schema, without the tables.
  const names = await connection.column<string | null>(sql`
    select c.relname from pg_namespace n
    left join pg_class c on c.relnamespace = n.oid and c.relkind in ('r', 'p')
      and c.relname in (${versionTable.table}, ${logTableOf(versionTable)})
    where n.nspname = ${versionTable.schema}`);
  return {
    schema: names.length > 0,
    versionTable: names.includes(versionTable.table),
    logTable: names.includes(logTableOf(versionTable)),
  };
}

/** Whether the version table exists. */
export async function versionTableExists(
  connection: Db,
  versionTable: VersionTable,
): Promise<boolean> {
  return tableExists(connection, versionTable.schema, versionTable.table);
}

/** Whether `schema.name` is a table (plain or partitioned). */
export async function tableExists(connection: Db, schema: string, name: string): Promise<boolean> {
  return connection.exists(sql`
    select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relname = ${name} and c.relkind in ('r', 'p')`);
}

/**
 * Create `schema` if it is missing (the ledger's, or the one migrations run in). Call it while
 * holding the run's lock: `create ... if not exists` alone still races on the catalog's unique
 * index.
 */
export async function ensureSchema(connection: Db, schema: string): Promise<void> {
  // `create schema if not exists` needs CREATE on the database even when the schema exists.
  const schemaExists = await connection.exists(
    sql`select 1 from pg_namespace where nspname = ${schema}`,
  );
  if (!schemaExists) await connection.run(sql`create schema if not exists ${identifier(schema)}`);
}

type AppliedRow = {
  version: string;
  name: string;
  checksum: string;
  applied_at: string;
  duration_ms: number;
  applied_by: string;
};

/** Every row of the version table, oldest version first. */
export async function readApplied(
  connection: Db,
  versionTable: VersionTable,
): Promise<AppliedMigration[]> {
  const rows = await connection.rows<AppliedRow>(sql`
    select ${APPLIED_COLUMNS} from ${versionTableIdentifier(versionTable)} order by version`);
  return rows.map(toApplied);
}

/**
 * The version table's rows, unless it holds exactly `files` (one row per file, with its version,
 * name and checksum, and no other row): then `'matches'`, and no row crosses the wire. One round
 * trip either way: the server compares a digest of its rows with the files' own
 * ({@link ledgerDigest}) and sends every row only when they differ. A no-op `up` over thousands
 * of applied migrations reads one row instead of thousands (and formats no timestamp).
 */
export async function readAppliedUnless(
  connection: Db,
  versionTable: VersionTable,
  files: readonly Pick<MigrationFile, 'version' | 'name' | 'checksum'>[],
): Promise<AppliedMigration[] | 'matches'> {
  const table = versionTableIdentifier(versionTable);
  const expected = ledgerDigest(files);
  // The marker row (a null version) says the digests matched; it sorts after any real row.
  const rows = await connection.rows<AppliedRow | { version: null }>(sql`
    with ledger as (
      select encode(sha256(convert_to(count(*)::text || ${DIGEST_SEPARATOR} || coalesce(string_agg(
        version || ' ' || name || ' ' || checksum, ${DIGEST_SEPARATOR} order by version collate "C"
      ), ''), getdatabaseencoding())), 'hex') as digest
      from ${table}
    )
    select ${APPLIED_COLUMNS} from ${table}
    where (select digest from ledger) <> ${expected}
    union all
    select null, null, null, null, null, null from ledger where digest = ${expected}
    order by 1`);
  if (rows.length === 1 && rows[0]?.version === null) return 'matches';
  return (rows as AppliedRow[]).map(toApplied);
}

/** What separates the rows in {@link ledgerDigest}: no version, name or checksum holds it. */
const DIGEST_SEPARATOR = '\n';

/**
 * SHA-256 (hex) of the rows a version table holding exactly `files` would have: their count, then
 * each as `version name checksum`, newline-separated, in byte order of their versions (what
 * {@link readAppliedUnless} asks the server to compute over its rows, in the database's encoding:
 * the same bytes for the ASCII a file's version, name and checksum are made of). A file's fields
 * hold no space or newline, so with the count no other set of rows gives the same text (a row
 * whose fields hold separators would need fewer rows than the count says).
 */
export function ledgerDigest(files: readonly DigestFile[]): string {
  // A fleet's targets share one files array per thread (`files-once.ts`): digested once.
  let digest = digests.get(files);
  if (digest === undefined) {
    digest = digestOf(files);
    digests.set(files, digest);
  }
  return digest;
}

type DigestFile = Pick<MigrationFile, 'version' | 'name' | 'checksum'>;

/** Digests by files array: the arrays are never changed once read. */
const digests = new WeakMap<readonly DigestFile[], string>();

function digestOf(files: readonly DigestFile[]): string {
  const lines = files.map(({ version, name, checksum }) => `${version} ${name} ${checksum}`);
  // Byte order (collation "C"): versions are ASCII, so code unit order is the same.
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const text = `${String(files.length)}${DIGEST_SEPARATOR}${lines.join(DIGEST_SEPARATOR)}`;
  return createHash('sha256').update(text).digest('hex');
}

const APPLIED_COLUMNS = raw(`version, name, checksum,
  to_char(applied_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as applied_at,
  duration_ms::float8 as duration_ms, applied_by`);

function toApplied(row: AppliedRow): AppliedMigration {
  return {
    version: row.version,
    name: row.name,
    checksum: row.checksum,
    appliedAt: row.applied_at,
    durationMs: row.duration_ms,
    appliedBy: row.applied_by,
  };
}

/** Record an applied migration, in the migration's own transaction. */
export async function insertApplied(
  connection: Db,
  versionTable: VersionTable,
  row: {
    version: string;
    name: string;
    checksum: string;
    durationMs: number;
    appliedBy: string | null;
  },
): Promise<void> {
  await connection.run(sql`
    insert into ${versionTableIdentifier(versionTable)}
      (version, name, checksum, duration_ms, applied_by)
    values (${row.version}, ${row.name}, ${row.checksum}, ${Math.round(row.durationMs)},
      coalesce(${row.appliedBy}, current_user))`);
}

/** Whether `version` is recorded as applied. */
export async function isApplied(
  connection: Db,
  versionTable: VersionTable,
  version: string,
): Promise<boolean> {
  return connection.exists(
    sql`select 1 from ${versionTableIdentifier(versionTable)} where version = ${version}`,
  );
}

/** Forget an applied migration (after its down ran, or by stamp/repair). */
export async function deleteApplied(
  connection: Db,
  versionTable: VersionTable,
  version: string,
): Promise<void> {
  await connection.run(
    sql`delete from ${versionTableIdentifier(versionTable)} where version = ${version}`,
  );
}

/** Accept a new checksum for an applied migration (repair). */
export async function updateChecksum(
  connection: Db,
  versionTable: VersionTable,
  version: string,
  checksum: string,
): Promise<void> {
  await connection.run(
    sql`
      update ${versionTableIdentifier(versionTable)} set checksum = ${checksum}
      where version = ${version}`,
  );
}
