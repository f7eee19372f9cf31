/**
 * The log table, `<table>_log` beside the version table: append-only, one row for everything
 * that happened to a migration (up, down, stamp, repair), failures included. The version table
 * says what is applied; the log says what happened.
 */
import type { Db } from '../db/db.ts';
import { identifier, raw, sql } from '../db/sql.ts';
import {
  LOG_TABLE_ADDED_COLUMNS,
  logTableName,
  logTableOf,
  quoteIdentifier,
  type VersionTable,
} from '../../sql/ddl.ts';
import { tableExists } from './version-table.ts';
import type { LogEntry } from '../../model/migration.ts';

/** The log table's identifier. */
function logTableIdentifier(versionTable: VersionTable) {
  return identifier(versionTable.schema, logTableOf(versionTable));
}

/**
 * Add the columns a log table made by an older offloop lacks. Call it under the run's lock. A
 * column is looked up first: `alter table` would take an ACCESS EXCLUSIVE lock on the log table
 * on every run, even with `if not exists`. The table itself is made with the version table
 * (`ensureLedger`, `version-table.ts`).
 */
export async function ensureLogColumns(connection: Db, versionTable: VersionTable): Promise<void> {
  const present = await connection.column<string>(sql`
    select attname as name from pg_attribute
    where attrelid = ${logTableName(versionTable)}::regclass and attnum > 0 and not attisdropped`);
  for (const [column, type] of LOG_TABLE_ADDED_COLUMNS) {
    if (present.includes(column)) continue;
    await connection.run(
      raw(
        `alter table ${logTableName(versionTable)} ` +
          `add column if not exists ${quoteIdentifier(column)} ${type}`,
      ),
    );
  }
}

/** A row to append; `attempts` only for an `up` or `down` that ran. */
export type LogRow = Omit<LogEntry, 'id' | 'at' | 'attempts'> & {
  readonly attempts?: number | null | undefined;
};

/** Append one entry. */
export async function appendLog(
  connection: Db,
  versionTable: VersionTable,
  row: LogRow,
): Promise<void> {
  await connection.run(sql`
    insert into ${logTableIdentifier(versionTable)}
      (version, name, direction, checksum, outcome, applied_by, duration_ms, error, statements_run,
        attempts)
    values (${row.version}, ${row.name}, ${row.direction}, ${row.checksum}, ${row.outcome},
      ${row.appliedBy}, ${row.durationMs === null ? null : Math.round(row.durationMs)},
      ${row.error}, ${row.statementsRun}, ${row.attempts ?? null})`);
}

/**
 * The duration the newest successful run of `version` in `direction` recorded, or null. Under the
 * run's lock, right after that run committed, that is this run's own entry.
 */
export async function recordedDuration(
  connection: Db,
  versionTable: VersionTable,
  version: string,
  direction: 'up' | 'down',
): Promise<number | null> {
  const [row] = await connection.rows<{ duration_ms: number | null }>(sql`
    select duration_ms from ${logTableIdentifier(versionTable)}
    where version = ${version} and direction = ${direction} and outcome = 'succeeded'
    order by id desc limit 1`);
  return row?.duration_ms ?? null;
}

type LogRowRead = {
  id: number;
  version: string;
  name: string;
  direction: string;
  checksum: string | null;
  outcome: string;
  applied_by: string;
  at: string;
  duration_ms: number | null;
  error: string | null;
  statements_run: number | null;
  attempts: number | null;
};

function toEntry(row: LogRowRead): LogEntry {
  return {
    id: row.id,
    version: row.version,
    name: row.name,
    direction: row.direction as LogEntry['direction'],
    checksum: row.checksum,
    outcome: row.outcome as LogEntry['outcome'],
    appliedBy: row.applied_by,
    at: row.at,
    durationMs: row.duration_ms,
    error: row.error,
    statementsRun: row.statements_run,
    attempts: row.attempts,
  };
}

// `attempts` through the row's JSON: read-only commands read a log table an older offloop made,
// which they do not upgrade, and which has no such column. The table is aliased `entry`.
const SELECT_COLUMNS = raw(`id::int as id, version, name, direction, checksum, outcome,
  applied_by, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at,
  duration_ms, error, statements_run, (to_jsonb(entry) ->> 'attempts')::int as attempts`);

/** Whether the log table exists. */
export async function logTableExists(connection: Db, versionTable: VersionTable): Promise<boolean> {
  return tableExists(connection, versionTable.schema, logTableOf(versionTable));
}

/** The whole log, newest first (at most `limit` entries). */
export async function readLog(
  connection: Db,
  versionTable: VersionTable,
  limit = 1000,
): Promise<LogEntry[]> {
  const rows = await connection.rows<LogRowRead>(
    sql`
      select ${SELECT_COLUMNS} from ${logTableIdentifier(versionTable)} as entry
      order by id desc limit ${limit}`,
  );
  return rows.map(toEntry);
}

/**
 * Non-transactional runs that went wrong and that nothing has resolved since, one entry per
 * version:
 * - a run that died midway (a killed process, a lost connection): the version's newest entry is
 *   the `started` row written before its first statement;
 * - otherwise, a run that failed midway: of the version's entries that settled something (not
 *   `failed`, which left nothing behind, nor `started`), the newest is `partial`. A later attempt
 *   that failed before running anything does not resolve it; a success, a stamp, an unstamp or
 *   a repair does.
 *
 * Only versions with a `started` or `partial` entry can be either (those of non-transactional
 * migrations: each run of one writes `started` first): the log is scanned once for them, and only
 * their entries are sorted, however long the history of the others.
 */
export async function readDirty(connection: Db, versionTable: VersionTable): Promise<LogEntry[]> {
  const log = logTableIdentifier(versionTable);
  const rows = await connection.rows<LogRowRead>(sql`
    with candidates as (
      select version from ${log} where outcome in ('started', 'partial')
    ), latest as (
      select distinct on (version) version, id, outcome from ${log}
      where version in (select version from candidates)
      order by version, id desc
    ), settled as (
      select distinct on (version) version, id, outcome from ${log}
      where outcome not in ('failed', 'started') and version in (select version from candidates)
      order by version, id desc
    )
    select ${SELECT_COLUMNS} from ${log} as entry
    where id in (
      select id from latest where outcome = 'started'
      union all
      select settled.id from settled join latest using (version)
      where settled.outcome = 'partial' and latest.outcome <> 'started'
    )
    order by version`);
  return rows.map(toEntry);
}
