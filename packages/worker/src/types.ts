/** Public types of the host API. */
import type { ConfigInput, ProgressEvent, ProgressListener } from '@offloop/core';

export type { StatusResult, UpResult } from '@offloop/core';

/**
 * Options of {@link createMigrator}: the same names as the CLI flags, validated by the same zod
 * schema (`url`, `dir`, `schema`, `table`, `lockTimeout`, `lockUrl`, `statementTimeout`,
 * `connectTimeout`, `appliedBy`, `cwd`).
 */
export type MigratorOptions = ConfigInput;

/** Options every call takes. */
export type CallOptions = {
  /** Receives progress events on the host's loop, as they happen. */
  readonly onProgress?: ProgressListener | undefined;
  /** Aborts the call: it rejects with `RUN_ABORTED`. */
  readonly signal?: AbortSignal | undefined;
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
