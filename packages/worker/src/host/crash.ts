/**
 * A thread that died by itself (out of memory, `process.exit()`, an uncaught error): what the
 * call knew of its work, and the typed error that says what became of it.
 */
import {
  describeKept,
  messageOf,
  MigratorClosedError,
  WorkerFailedError,
  WorkerOutOfMemoryError,
  type MigrationResult,
  type OffloopError,
} from '@offloop/core';
import type { CrashOutcome, InFlightMigration } from '@offloop/core/engine';

/** The migration a call's thread is running, as its events say. */
export type InFlight = InFlightMigration & { readonly startedAt: number };

/** What killed a thread, before the server has been asked what became of its work. */
type Crash = {
  readonly kind: 'out-of-memory' | 'closed' | 'failed';
  readonly reason: string;
  readonly logLine: string;
};

/**
 * Name a crash: Node's error code for out of memory; the migrator's state for a close; the
 * thread's exit code (null when it ended with an error of its own) for `process.exit()`.
 */
export function describeCrash(error: unknown, exitCode: number | null, closed: boolean): Crash {
  const message = messageOf(error);
  if ((error as { code?: unknown } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY')
    return { kind: 'out-of-memory', reason: message, logLine: `WORKER_OUT_OF_MEMORY: ${message}` };
  if (closed)
    return {
      kind: 'closed',
      reason: message,
      logLine: 'MIGRATOR_CLOSED: the migrator was closed while the migration ran',
    };
  const reason =
    exitCode === null
      ? message
      : `the thread exited with code ${exitCode} (did a migration call process.exit()?)`;
  return { kind: 'failed', reason, logLine: `WORKER_FAILED: ${reason}` };
}

/** `applied`, plus the in-flight migration when the server says its commit went through. */
export function settleApplied(
  applied: readonly MigrationResult[],
  running: InFlight | null,
  outcome: CrashOutcome | null,
): MigrationResult[] {
  if (running === null || outcome !== 'committed') return [...applied];
  const { version, name, file, direction } = running;
  return [
    ...applied,
    {
      version,
      name,
      file,
      direction,
      durationMs: Math.round(performance.now() - running.startedAt),
    },
  ];
}

/** What became of the migration a dead thread was running, as a sentence (or nothing). */
export function describeOutcome(running: InFlight | null, outcome: CrashOutcome | null): string {
  if (running === null) return '';
  switch (outcome) {
    case 'committed':
      return `${running.file} had committed before the thread died and stays applied. `;
    case 'rolled-back':
      return `${running.file} was rolled back. `;
    case 'partial':
      return (
        `${running.file} is not transactional: what it ran before the thread died stays, and the ` +
        'next run refuses to start until it is resolved (`offloop status` says how). '
      );
    case null:
      return (
        `Whether ${running.file} committed could not be checked (the server was not reachable): ` +
        '`offloop status` shows it. '
      );
  }
}

/** What a call knew when its thread died, and what the server said of its migration. */
type CrashReport = {
  readonly crash: Crash;
  readonly error: unknown;
  readonly kept: readonly MigrationResult[];
  readonly running: InFlight | null;
  /** The migration file being imported (its top-level code), when none was running yet. */
  readonly loading: string | null;
  readonly outcome: CrashOutcome | null;
};

/** The typed error for a thread that died by itself, saying what became of its migration. */
export function crashError(report: CrashReport): OffloopError {
  const { crash, error, kept, running, loading, outcome } = report;
  const what = describeOutcome(running, outcome);
  const where =
    running !== null
      ? ` while ${running.file} ran`
      : loading !== null
        ? ` while importing ${loading} (its top-level code), before anything ran`
        : '';
  const file = running?.file ?? loading;
  switch (crash.kind) {
    case 'out-of-memory':
      return new WorkerOutOfMemoryError(
        'The migration worker thread ran out of memory ' +
          `(workerResourceLimits)${where} and was stopped. ${what}${describeKept(kept)}`,
        { reason: crash.reason, applied: [...kept] },
        { cause: error },
      );
    case 'closed':
      return new MigratorClosedError(
        `The migrator was closed while the call ran. ${what}${describeKept(kept)}`,
        { applied: [...kept] },
        { cause: error },
      );
    case 'failed':
      return new WorkerFailedError(
        `The migration worker thread failed${where}: ${crash.reason}. ${what}${describeKept(kept)}`,
        { reason: crash.reason, applied: [...kept], file },
        { cause: error },
      );
  }
}
