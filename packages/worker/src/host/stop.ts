/**
 * Why a call was asked to stop, and the typed error for each way it stopped: it stopped when
 * asked (the engine reported RUN_ABORTED), or it had to be terminated (its thread did not answer
 * within `cancelGracePeriod`, or a migration ran past `migrationTimeout` without yielding).
 */
import {
  count,
  describeKept,
  MigrationTimeoutError,
  MigratorClosedError,
  RunAbortedError,
  RunTimeoutError,
  WorkerUnresponsiveError,
  type MigrationResult,
  type OffloopError,
} from '@offloop/core';
import type { InFlightMigration } from '@offloop/core/engine';

/** Why a call was asked to stop. */
export type StopReason =
  | { readonly kind: 'abort'; readonly cause: unknown }
  | { readonly kind: 'timeout'; readonly timeoutMs: number }
  | { readonly kind: 'closed' }
  // The worker did not end a migration at its migrationTimeout (its loop is blocked).
  | MigrationTimeout;

/** A migration still running `cancelGracePeriod` after its `migrationTimeout`. */
export type MigrationTimeout = {
  readonly kind: 'migration-timeout';
  readonly migration: InFlightMigration;
  readonly timeoutMs: number;
};

/** The reason, for the worker's abort and for messages: "after <reason>". */
export function describeStop(reason: StopReason): string {
  switch (reason.kind) {
    case 'abort':
      return `the call was aborted${describeCause(reason.cause)}`;
    case 'timeout':
      return `the call's timeout of ${reason.timeoutMs} ms`;
    case 'closed':
      return 'the migrator was closed';
    case 'migration-timeout':
      return `${reason.migration.file} ran longer than migrationTimeout (${reason.timeoutMs} ms)`;
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return ` (${cause.message})`;
  return typeof cause === 'string' ? ` (${cause})` : '';
}

/** The line the ledger's log records for a call whose thread had to be terminated. */
export function terminatedLogLine(reason: StopReason, graceMs: number): string {
  return reason.kind === 'migration-timeout'
    ? 'MIGRATION_TIMEOUT: ran longer than migrationTimeout ' +
        `(${reason.timeoutMs} ms) without yielding; its thread was terminated`
    : `WORKER_UNRESPONSIVE: the thread did not stop within ${graceMs} ms ` +
        `after ${describeStop(reason)} and was terminated`;
}

/** The typed error for a call that stopped because it was asked to. */
export function stopError(
  reason: StopReason,
  applied: readonly MigrationResult[],
  cause: unknown,
): OffloopError {
  const options = cause === undefined ? undefined : { cause };
  switch (reason.kind) {
    case 'abort':
      if (cause instanceof RunAbortedError) return cause;
      return new RunAbortedError(
        `The run was cancelled; ${count(applied.length, 'migration')} applied before it stopped.`,
        { applied: [...applied] },
        { cause: reason.cause },
      );
    case 'timeout':
      return new RunTimeoutError(
        `The run exceeded its timeout of ${reason.timeoutMs} ms and was ` +
          `cancelled; ${count(applied.length, 'migration')} applied before it stopped.`,
        { timeoutMs: reason.timeoutMs, applied: [...applied] },
        options,
      );
    case 'closed':
      return new MigratorClosedError(
        'The migrator was closed while the call ran; ' +
          `${count(applied.length, 'migration')} applied before it stopped.`,
        { applied: [...applied] },
        options,
      );
    case 'migration-timeout':
      return migrationTimeoutError(reason, applied, '');
  }
}

/** MIGRATION_TIMEOUT for a migration whose thread had to be terminated (it never yielded). */
function migrationTimeoutError(
  reason: MigrationTimeout,
  applied: readonly MigrationResult[],
  what: string,
): MigrationTimeoutError {
  const { migration, timeoutMs } = reason;
  return new MigrationTimeoutError(
    `${migration.file}: migration ${migration.version} ran longer than ` +
      `migrationTimeout (${timeoutMs} ms) without yielding to its event loop (a loop in ` +
      'JavaScript?); its worker thread was terminated and its statements cancelled on the ' +
      `server. ${what}${describeKept(applied)}`,
    {
      version: migration.version,
      name: migration.name,
      file: migration.file,
      direction: migration.direction,
      transactional: migration.transactional,
      line: null,
      column: null,
      statement: null,
      statementCount: null,
      statementsRun: 0,
      sqlstate: null,
      detail: null,
      hint: null,
      applied: [...applied],
      invalidIndexes: [],
      timeoutMs,
    },
  );
}

/** What a call whose thread was terminated left behind, once the server has been asked. */
type Terminated = {
  readonly reason: StopReason;
  readonly graceMs: number;
  /** What stays applied, the in-flight migration included when it committed. */
  readonly kept: readonly MigrationResult[];
  /** What became of the in-flight migration, as a sentence (or nothing). */
  readonly what: string;
  /** Failures of the server-side cancel. */
  readonly cleanupErrors: readonly string[];
};

/**
 * The typed error for a call whose thread had to be terminated: MIGRATION_TIMEOUT, or
 * WORKER_UNRESPONSIVE caused by the stop it did not answer. A failed server-side cancel is
 * attached (`SuppressedError`), never in place of the failure.
 */
export function terminatedError(terminated: Terminated): OffloopError | SuppressedError {
  const { reason, graceMs, kept, what, cleanupErrors } = terminated;
  const cleanupFailure =
    cleanupErrors.length === 0
      ? null
      : new Error(
          `Cancelling the run's statements on the server failed: ${cleanupErrors.join('; ')}`,
        );
  const withCleanup = (failure: OffloopError): OffloopError | SuppressedError =>
    cleanupFailure === null
      ? failure
      : new SuppressedError(cleanupFailure, failure, 'server-side cancel failed');
  if (reason.kind === 'migration-timeout')
    return withCleanup(migrationTimeoutError(reason, kept, what));
  return new WorkerUnresponsiveError(
    `The migration worker did not stop within ${graceMs} ms ` +
      `(cancelGracePeriod) after ${describeStop(reason)}; its thread was terminated and its ` +
      `statements cancelled on the server. ${what}${describeKept(kept)}`,
    { graceMs, applied: [...kept] },
    { cause: withCleanup(stopError(reason, kept, undefined)) },
  );
}
