/**
 * What a run whose worker thread died (crashed, ran out of memory, was terminated because it did
 * not stop) leaves in the log. The thread cannot write it; the host's cancel thread does, once the
 * dead thread's backends are gone and the outcome of the migration it was running is final.
 */
import type { Db } from '../db/db.ts';
import type { VersionTable } from '../../sql/ddl.ts';
import { appendLog, logTableExists } from './log-table.ts';
import { isApplied, versionTableExists } from './version-table.ts';

/** The migration a thread was running when it died, as the host saw it start. */
export type InFlightMigration = {
  readonly version: string;
  readonly name: string;
  readonly file: string;
  readonly direction: 'up' | 'down';
  readonly transactional: boolean;
  readonly checksum: string;
};

/**
 * What became of the migration a dead thread was running: `committed` (its commit went through
 * before the thread died), `rolled-back`, or `partial` (a non-transactional migration: its
 * `started` log row stays the last word, and the next run says what to do).
 */
export type CrashOutcome = 'committed' | 'rolled-back' | 'partial';

/**
 * Find out what became of `migration` and log a failure for it when it rolled back. Call only
 * once the dead thread's backends are gone.
 */
export async function recordCrash(
  connection: Db,
  versionTable: VersionTable,
  migration: InFlightMigration,
  row: { readonly appliedBy: string; readonly error: string; readonly durationMs: number | null },
): Promise<CrashOutcome> {
  if (!migration.transactional) return 'partial';
  const applied =
    (await versionTableExists(connection, versionTable)) &&
    (await isApplied(connection, versionTable, migration.version));
  if (applied === (migration.direction === 'up')) return 'committed';
  if (await logTableExists(connection, versionTable)) {
    await appendLog(connection, versionTable, {
      version: migration.version,
      name: migration.name,
      direction: migration.direction,
      checksum: migration.checksum,
      outcome: 'failed',
      appliedBy: row.appliedBy,
      durationMs: row.durationMs,
      error: row.error,
      statementsRun: null,
    });
  }
  return 'rolled-back';
}
