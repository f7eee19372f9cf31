/** Public types of the host API. */
import type {
  CommandName,
  ConfigInput,
  OperationInput,
  ProgressEvent,
  ProgressListener,
} from '@offloop/core';

export type {
  CheckResult,
  CurrentResult,
  DownResult,
  HistoryResult,
  LintFinding,
  LintResult,
  PlanResult,
  RedoResult,
  RepairResult,
  SqlResult,
  StampResult,
  StatusResult,
  UpResult,
} from '@offloop/core';

/**
 * Options of {@link createMigrator}: core's `configSchema`'s input, whose fields carry the
 * documentation; the CLI's flags have the same names in kebab-case.
 */
export type MigratorOptions = ConfigInput;

/**
 * What a call takes besides its options: not data, so not in the operation's schema, and never
 * sent to the worker thread.
 */
type CallControl = {
  /** Receives progress events on the host's loop, as they happen. */
  readonly onProgress?: ProgressListener | undefined;
  /**
   * Cancels the call: the worker stops between statements and migrations (the running statement
   * is cancelled on the server), rolls back the current migration and releases the lock; the call
   * rejects with `RUN_ABORTED`, `details.applied` listing what finished before. A worker that does
   * not stop within `cancelGracePeriod` is terminated (`WORKER_UNRESPONSIVE`).
   */
  readonly signal?: AbortSignal | undefined;
};

/**
 * The options of a call of operation `N`: its schema's input (core's `OPERATION_SCHEMAS`, whose
 * fields carry the documentation), and {@link CallControl}.
 */
type OptionsOf<N extends CommandName> = CallControl & OperationInput<N>;

/** Options every call takes: `onProgress`, `signal`, `timeout`. */
export type CallOptions = OptionsOf<'status'>;

/** Options of {@link Migrator.up}. */
export type UpOptions = OptionsOf<'up'>;

/** Options of {@link Migrator.down}: one step by default. */
export type DownOptions = OptionsOf<'down'>;

/** Options of {@link Migrator.redo}. */
export type RedoOptions = OptionsOf<'redo'>;

/** Options of {@link Migrator.stamp}. */
export type StampOptions = OptionsOf<'stamp'>;

/** Options of {@link Migrator.repair}. */
export type RepairOptions = OptionsOf<'repair'>;

/** Options of {@link Migrator.check}. */
export type CheckOptions = OptionsOf<'check'>;

/** Options of {@link Migrator.lint}. */
export type LintOptions = OptionsOf<'lint'>;

/** Options of {@link Migrator.plan} and {@link Migrator.sql}. */
export type ScriptOptions = OptionsOf<'sql'>;

/**
 * A call in flight: await it for the result, or iterate it for progress events (the iterator
 * ends when the call settles and throws its error if it failed).
 */
export type MigrationRun<T> = Promise<T> &
  AsyncIterable<ProgressEvent> & {
    /** The same result as a real promise (for `.catch`, `.finally`, `Promise.all`). */
    readonly result: Promise<T>;
  };
