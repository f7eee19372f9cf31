/**
 * Live severity: when connected, a finding whose harm grows with its table (a scan or a rewrite
 * under a lock) is graded by the table's size, read from the catalog (`pg_class.reltuples`, an
 * estimate; `pg_relation_size`, the main data). The thresholds are in docs/lint.md.
 */
import type { Db } from '../db/db.ts';
import { sql } from '../db/sql.ts';
import { LINT_RULES, type LintSeverity, type TableSize } from '../../model/lint.ts';
import type { GradableFinding, LintSettings } from './lint-file.ts';
import type { TableRef } from './nodes.ts';

/** A table at most this big is small: its finding is a note. */
const SMALL_TABLE = { rows: 10_000, bytes: 10 * 1024 * 1024 } as const;

/** A table at least this big (either one) is big: its finding is an error. */
const BIG_TABLE = { rows: 1_000_000, bytes: 1024 * 1024 * 1024 } as const;

/** The connected server's major version (`server_version_num` 150004 is 15). */
export async function serverMajorVersion(pool: Db): Promise<number> {
  return Math.floor((await pool.serverVersionNum()) / 10_000);
}

/** `"schema"."table"` as `to_regclass` reads it: the names exactly as the parser gave them. */
function regclassText(table: TableRef): string {
  const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;
  return table.schema === undefined
    ? quote(table.relname)
    : `${quote(table.schema)}.${quote(table.relname)}`;
}

type SizeRow = { name: string; rows: number | null; bytes: number | null };

/**
 * The sizes of `tables` (by their `regclass` text), null for a table that does not exist (yet:
 * an earlier pending migration creates it). Found through the connection's `search_path`, as the
 * migration would find them.
 */
async function tableSizes(
  pool: Db,
  tables: readonly TableRef[],
): Promise<Map<string, TableSize | null>> {
  const names = [...new Set(tables.map(regclassText))];
  const sizes = new Map<string, TableSize | null>();
  if (names.length === 0) return sizes;
  const rows = await pool.rows<SizeRow>(sql`
    select t.name, c.reltuples::float8 as rows, pg_relation_size(c.oid)::float8 as bytes
    from unnest(${names}::text[]) as t(name)
    left join pg_class c on c.oid = to_regclass(t.name)`);
  for (const row of rows) {
    // reltuples is -1 for a table never vacuumed or analyzed (PostgreSQL 14+): unknown.
    sizes.set(
      row.name,
      row.bytes === null
        ? null
        : { rows: row.rows === null || row.rows < 0 ? null : row.rows, bytes: row.bytes },
    );
  }
  return sizes;
}

/** The severity a table of `size` gives a finding; a table that does not exist yet is empty. */
export function severityForSize(size: TableSize | null): LintSeverity {
  if (size === null) return 'note';
  const rows = size.rows ?? 0;
  if (size.bytes >= BIG_TABLE.bytes || rows >= BIG_TABLE.rows) return 'error';
  if (size.bytes <= SMALL_TABLE.bytes && rows <= SMALL_TABLE.rows) return 'note';
  return 'warning';
}

/**
 * `found`, each finding of a size-graded rule about a table re-graded by the table's size (a rule
 * whose level the configuration sets keeps it), with the size attached.
 */
export async function gradeBySize(
  pool: Db,
  found: readonly GradableFinding[],
  settings: LintSettings,
): Promise<GradableFinding[]> {
  const gradable = (item: GradableFinding): item is GradableFinding & { table: TableRef } =>
    item.table !== undefined &&
    LINT_RULES[item.finding.rule].sized &&
    settings.levels[item.finding.rule] === undefined;
  const sizes = await tableSizes(
    pool,
    found.filter(gradable).map((item) => item.table),
  );
  return found.map((item) => {
    if (!gradable(item)) return item;
    const size = sizes.get(regclassText(item.table)) ?? null;
    return { ...item, finding: { ...item.finding, severity: severityForSize(size), size } };
  });
}
