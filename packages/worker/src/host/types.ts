/** Public types of the host API. */
import type { ConfigInput, ProgressEvent, ProgressListener } from '@offloop/core';

export type {
  CheckResult,
  CurrentResult,
  DownResult,
  HistoryResult,
  PlanResult,
  RedoResult,
  RepairResult,
  SqlResult,
  StampResult,
  StatusResult,
  UpResult,
} from '@offloop/core';

/**
 * Options of {@link createMigrator}: the same names as the CLI flags, validated by the same zod
 * schema (`url`, `dir`, `schema`, `table`, `lockTimeout`, `lockUrl`, `statementTimeout`,
 * `connectTimeout`, `appliedBy`, `cwd`, `cancelGracePeriod`, `workerNice`, `workerResourceLimits`).
 */
export type MigratorOptions = ConfigInput;

/** Options every call takes. */
export type CallOptions = {
  /** Receives progress events on the host's loop, as they happen. */
  readonly onProgress?: ProgressListener | undefined;
  /**
   * Cancels the call: the worker stops between statements and migrations (the running statement
   * is cancelled on the server), rolls back the current migration and releases the lock; the call
   * rejects with `RUN_ABORTED`, `details.applied` listing what finished before. A worker that does
   * not stop within `cancelGracePeriod` is terminated (`WORKER_UNRESPONSIVE`).
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Cancel the whole call after this long, in ms or as `"30s"`, like an abort, with `RUN_TIMEOUT`.
   * Time spent queued behind an earlier call of the same migrator counts. @default none
   */
  readonly timeout?: number | string | undefined;
};

/** Options of {@link Migrator.up}. */
export type UpOptions = CallOptions & {
  /** Apply pending migrations up to and including this version: a version, an unambiguous prefix, or `+N`. @default all pending */
  readonly to?: string | undefined;
  /** Apply pending migrations older than the newest applied one (merged from a parallel branch) instead of refusing. @default false */
  readonly allowOutOfOrder?: boolean | undefined;
  /** Run the whole run in one transaction; refused when a migration in it is non-transactional. @default false */
  readonly singleTransaction?: boolean | undefined;
};

/** Options of {@link Migrator.down}: one step by default. */
export type DownOptions = CallOptions & {
  /** Revert this many migrations. @default 1 */
  readonly step?: number | undefined;
  /** Revert every migration after this version (which stays applied): a version, prefix, `-N`, or `base` for all. */
  readonly to?: string | undefined;
};

/** Options of {@link Migrator.redo}. */
export type RedoOptions = CallOptions & {
  /** Revert and re-apply this many migrations. @default 1 */
  readonly step?: number | undefined;
};

/** Options of {@link Migrator.stamp}. */
export type StampOptions = CallOptions & {
  /** Record the database as being at this version (or prefix), or `base`. */
  readonly to: string;
};

/** Options of {@link Migrator.repair}. */
export type RepairOptions = CallOptions & {
  /** Report what would change and change nothing. @default false */
  readonly dryRun?: boolean | undefined;
  /** Also forget applied migrations whose files are gone. @default false */
  readonly forgetMissing?: boolean | undefined;
};

/** Options of {@link Migrator.check}. */
export type CheckOptions = CallOptions & {
  /** Do not count out-of-order pending migrations as a problem. @default false */
  readonly allowOutOfOrder?: boolean | undefined;
};

/** Options of {@link Migrator.plan} and {@link Migrator.sql}. */
export type ScriptOptions = CallOptions & {
  /** @default 'up' */
  readonly direction?: 'up' | 'down' | undefined;
  /** Take the database to be at this version (`base` for empty) instead of reading it: needs no database. Only for `sql`. */
  readonly from?: string | undefined;
  /** Up: stop at this version. Down: revert everything after it. */
  readonly to?: string | undefined;
  /** Down: revert this many migrations. @default 1 */
  readonly step?: number | undefined;
  readonly allowOutOfOrder?: boolean | undefined;
};

/**
 * A call in flight: await it for the result, or iterate it for progress events (the iterator
 * ends when the call settles and throws its error if it failed).
 */
export type MigrationRun<T> = Promise<T> &
  AsyncIterable<ProgressEvent> & {
    /** The same result as a real promise (for `.catch`, `.finally`, `Promise.all`). */
    readonly result: Promise<T>;
  };
