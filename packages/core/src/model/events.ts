/**
 * Progress events, a discriminated union on `type`. Every field is serialisable: events are
 * posted from the worker thread to the host as they happen.
 */
import type { MigrationResult } from '../errors/index.ts';
import type { LintFinding } from './lint.ts';

/** A run began; `command` says which. */
export type RunStartedEvent = {
  readonly type: 'run:started';
  readonly command: string;
  readonly dir: string;
  readonly at: string;
};
/** The lock is held by another runner; sent when waiting starts, then every few seconds. */
export type LockWaitingEvent = {
  readonly type: 'lock:waiting';
  readonly lockKey: string;
  readonly waitedMs: number;
  readonly timeoutMs: number;
  readonly holderPid: number | null;
};
/** This run holds the migration lock. */
export type LockAcquiredEvent = {
  readonly type: 'lock:acquired';
  readonly lockKey: string;
  readonly waitedMs: number;
};
/**
 * Backends of an earlier run that lost the lock (its process was killed, or its lock connection
 * dropped) were still running migration work; this run ended them and waited until they were
 * gone before reading the version table. Their transactions rolled back unless they had already
 * committed, which the version table then shows.
 */
export type LockOrphansEvent = { readonly type: 'lock:orphans'; readonly pids: readonly number[] };
/** The plan is known: which migrations will be applied (or reverted, for `down`). */
export type PlanReadyEvent = {
  readonly type: 'plan:ready';
  readonly direction: 'up' | 'down';
  readonly pending: readonly { readonly version: string; readonly name: string }[];
  readonly appliedCount: number;
};
/**
 * Lint found something in the migrations about to run (`up`, `check`): sent before anything runs,
 * once, when there are findings. `failed` says whether the run refuses to go on (`strict`).
 */
export type LintFindingsEvent = {
  readonly type: 'lint:findings';
  readonly findings: readonly LintFinding[];
  readonly failed: boolean;
};
/** One migration began (`index` is 1-based within this run). */
export type MigrationStartedEvent = {
  readonly type: 'migration:started';
  readonly direction: 'up' | 'down';
  readonly version: string;
  readonly name: string;
  readonly file: string;
  readonly index: number;
  readonly total: number;
  readonly transactional: boolean;
  /** sha256 of the file, as the version table records it. */
  readonly checksum: string;
};
/**
 * A JavaScript/TypeScript migration is being imported (before anything runs): a thread that dies
 * now died in that file's top-level code.
 */
export type MigrationLoadingEvent = {
  readonly type: 'migration:loading';
  readonly version: string;
  readonly file: string;
};
/** The PostgreSQL backend running a migration (find it in `pg_stat_activity`); used to cancel it. */
export type MigrationBackendEvent = {
  readonly type: 'migration:backend';
  readonly version: string;
  readonly pid: number;
};
/**
 * A migration's statement has been waiting for a lock for `waitedMs` (sent after a couple of
 * seconds, then every few seconds while it waits), with the sessions PostgreSQL says it waits
 * for. A concurrent index build also waits here for every older transaction, on any table.
 */
export type MigrationBlockedEvent = {
  readonly type: 'migration:blocked';
  readonly version: string;
  /** The migration's backend. */
  readonly pid: number;
  /** How long it has waited for the lock (on PostgreSQL 13 and older: how long the statement has run). */
  readonly waitedMs: number;
  /** `pg_stat_activity.wait_event` of the lock wait: `relation`, `transactionid`, `virtualxid`, ... */
  readonly lockType: string;
  /** The sessions holding it up (`pg_blocking_pids`), as `pg_stat_activity` shows them. */
  readonly blockedBy: readonly LockBlocker[];
};
/** A session holding up a migration's lock request, as `pg_stat_activity` showed it. */
export type LockBlocker = {
  readonly pid: number;
  readonly applicationName: string;
  /** Its role (`usename`); null if the server would not say. */
  readonly user: string | null;
  /** `active`, `idle in transaction`, ... */
  readonly state: string | null;
  /** How long that session's transaction has been open, in ms, if it is in one. */
  readonly transactionMs: number | null;
  /** Its current (or, when idle, last) query, cut to 300 characters; null if not visible. */
  readonly query: string | null;
};
/**
 * A migration's statement could not get its lock within `lock_timeout` (SQLSTATE 55P03): the
 * migration was rolled back (a non-transactional one: only that statement failed) and is tried
 * again after `waitMs`, with `nextLockTimeoutMs`. Each attempt holds up the application's queries
 * on the table for at most its `lock_timeout`.
 */
export type MigrationLockRetryEvent = {
  readonly type: 'migration:lock-retry';
  readonly version: string;
  /** The attempt that timed out, 1-based. */
  readonly attempt: number;
  /** Attempts allowed in all: the first and its retries. */
  readonly attempts: number;
  /** The statement retried (1-based) in a non-transactional migration; null: the whole migration. */
  readonly statement: number | null;
  /** The `lock_timeout` of the attempt that timed out. */
  readonly lockTimeoutMs: number;
  /** The `lock_timeout` of the next attempt. */
  readonly nextLockTimeoutMs: number;
  /** The pause before the next attempt, jitter included. */
  readonly waitMs: number;
  /** The sessions it waited for, seen while it waited (empty if none was seen in time). */
  readonly blockedBy: readonly LockBlocker[];
};
/** A message from a running migration: `ctx.progress()` in a module, or a statement finished in SQL. */
export type MigrationProgressEvent = {
  readonly type: 'migration:progress';
  readonly version: string;
  readonly message: string;
  readonly done: number | null;
  readonly total: number | null;
};
/**
 * One migration committed (in a single-transaction run: sent for each after the run's COMMIT).
 * `durationMs` is the duration stored in its version-table and log rows.
 */
export type MigrationFinishedEvent = { readonly type: 'migration:finished' } & MigrationResult & {
    readonly index: number;
    readonly total: number;
  };
/** The run ended successfully. */
export type RunFinishedEvent = {
  readonly type: 'run:finished';
  readonly applied: number;
  readonly durationMs: number;
};

/** Every progress event a run can emit. */
export type ProgressEvent =
  | RunStartedEvent
  | LockWaitingEvent
  | LockAcquiredEvent
  | LockOrphansEvent
  | PlanReadyEvent
  | LintFindingsEvent
  | MigrationLoadingEvent
  | MigrationStartedEvent
  | MigrationBackendEvent
  | MigrationBlockedEvent
  | MigrationLockRetryEvent
  | MigrationProgressEvent
  | MigrationFinishedEvent
  | RunFinishedEvent;

/** The `type` of a {@link ProgressEvent}. */
export type ProgressEventType = ProgressEvent['type'];

/** Receives progress events. Must not throw; it is called on the host's loop. */
export type ProgressListener = (event: ProgressEvent) => void;
