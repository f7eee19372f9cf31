/** Public types of the host API. */
import type { ConfigInput, ProgressEvent, ProgressListener } from '@offloop/core';

export type { StatusResult, UpResult } from '@offloop/core';

/**
 * Options of {@link createMigrator}: the same names as the CLI flags, validated by the same zod
 * schema (`url`, `dir`, `schema`, `table`, `lockTimeout`, `lockUrl`, `statementTimeout`,
 * `connectTimeout`, `appliedBy`, `cwd`, `cancelGracePeriod`, `workerResourceLimits`).
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
  /** Apply pending migrations up to and including this version. @default all pending */
  readonly to?: string | undefined;
};

/**
 * A call in flight: await it for the result, or iterate it for progress events (the iterator
 * ends when the call settles and throws its error if it failed).
 */
export type MigrationRun<T> = Promise<T> & AsyncIterable<ProgressEvent> & {
  /** The same result as a real promise (for `.catch`, `.finally`, `Promise.all`). */
  readonly result: Promise<T>;
};
