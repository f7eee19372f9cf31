/**
 * What a failure is reported as: the primary failure and the cleanup failures after it, any
 * thrown value made an offloop error, and the JSON envelope `--json` prints.
 */
import {
  InternalError,
  isOffloopError,
  messageOf,
  primaryFailure,
  toEnvelope,
  type ErrorEnvelope,
  type OffloopError,
} from '@offloop/core';
import { UsageError } from '../flags/usage-error.ts';

/** A failure the CLI reports: an offloop error, or a command line it could not understand. */
export type Failure = OffloopError | UsageError;

/** A failure as `--json` prints it. */
type FailureEnvelope = ReturnType<UsageError['toJSON']> | ErrorEnvelope;

/**
 * The failure to report and the cleanup failures that came after it. A failure during cleanup
 * (releasing the lock in the worker, closing the migrator, stopping PostgreSQL) arrives as a
 * `SuppressedError`, nested once per failing cleanup step, or in the error's `suppressed`; it
 * never hides the original failure, whose code gives the exit code.
 */
export function unwrap(error: unknown): { primary: Failure; cleanup: Failure[] } {
  const { primary, suppressed } = primaryFailure(error);
  return { primary: asFailure(primary), cleanup: suppressed.map(asFailure) };
}

function asFailure(error: unknown): Failure {
  if (error instanceof UsageError || isOffloopError(error)) return error;
  const message = messageOf(error);
  return new InternalError(`Unexpected error: ${message}`, {}, { cause: error });
}

/**
 * The error as JSON, without the failures it suppressed (they are `cleanupErrors`). Stack traces
 * only for the codes that mean a bug, where they help a report.
 */
export function envelope(error: Failure): FailureEnvelope {
  const data = error instanceof UsageError ? error.toJSON() : withoutSuppressed(toEnvelope(error));
  return data.code === 'INTERNAL_ERROR' || data.code === 'WORKER_FAILED'
    ? data
    : withoutStacks(data);
}

function withoutSuppressed({ suppressed: _, ...envelope }: ErrorEnvelope): ErrorEnvelope {
  return envelope;
}

function withoutStacks<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutStacks) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'stack')
      .map(([key, entry]) => [key, withoutStacks(entry)]),
  ) as T;
}
