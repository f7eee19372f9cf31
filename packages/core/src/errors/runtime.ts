/** A run stopped for reasons outside its migrations: the lock, the database, a cancel, its time limit. */
import { OffloopError } from './base.ts';
import type { MigrationResult } from './migration.ts';

/** Another runner held the migration lock for longer than `lockTimeout`. */
export class LockTimeoutError extends OffloopError<
  'LOCK_TIMEOUT',
  {
    readonly lockKey: string;
    readonly waitedMs: number;
    readonly holderPid: number | null;
    readonly holderApplication: string | null;
  }
> {
  readonly code = 'LOCK_TIMEOUT';
}

/**
 * The migration lock's connection ended during the run (terminated, a network failure, a server
 * restart). What the run had in flight was cancelled on the server and rolled back before this
 * was reported; `details.applied` lists what stays applied, `details.version`/`file` the
 * migration that was running, if one was.
 */
export class LockLostError extends OffloopError<
  'LOCK_LOST',
  {
    readonly lockKey: string;
    readonly applied: readonly MigrationResult[];
    readonly version: string | null;
    readonly file: string | null;
  }
> {
  readonly code = 'LOCK_LOST';
}

/** The database could not be reached or refused the connection. */
export class DatabaseUnavailableError extends OffloopError<
  'DATABASE_UNAVAILABLE',
  {
    readonly url: string;
    readonly sqlstate: string | null;
    readonly applied?: readonly MigrationResult[];
  }
> {
  readonly code = 'DATABASE_UNAVAILABLE';
}

/**
 * PostgreSQL refused one of offloop's own queries (not a migration's): creating or reading the
 * version and log tables, taking the lock. Usually rights (`42501`) or a read-only server (`25006`).
 */
export class DatabaseError extends OffloopError<
  'DATABASE_ERROR',
  {
    readonly url: string;
    readonly sqlstate: string;
    readonly detail: string | null;
    readonly hint: string | null;
    readonly applied?: readonly MigrationResult[];
  }
> {
  readonly code = 'DATABASE_ERROR';
}

/** The caller's `AbortSignal` fired. `details.applied` lists what finished before. */
export class RunAbortedError extends OffloopError<
  'RUN_ABORTED',
  { readonly applied: readonly MigrationResult[] }
> {
  readonly code = 'RUN_ABORTED';
}

/** The whole call ran longer than its `timeout`; it was cancelled like an abort. */
export class RunTimeoutError extends OffloopError<
  'RUN_TIMEOUT',
  { readonly timeoutMs: number; readonly applied: readonly MigrationResult[] }
> {
  readonly code = 'RUN_TIMEOUT';
}

/** DATABASE_ERROR: PostgreSQL refused one of offloop's own queries; `advice`, if any, says why. */
export function ownQueryMessage(
  url: string,
  pg: { readonly message: string; readonly sqlstate: string },
  advice: string | undefined,
): string {
  const refused = `PostgreSQL refused offloop's own query on ${url} (not a migration's statement)`;
  const said = `${pg.message} (SQLSTATE ${pg.sqlstate}).`;
  return advice === undefined ? `${refused}: ${said}` : `${refused}: ${said} ${advice}.`;
}
