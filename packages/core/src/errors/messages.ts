/**
 * Sentences that several errors share, built in one place: what of a run stays applied, how to
 * resolve a non-transactional migration that failed midway, and the errors that end a run
 * between migrations (a lost lock, a database failure) with what the run had finished.
 */
import { count } from '../util/count.ts';
import { OffloopError } from './base.ts';
import type { MigrationResult } from './migration.ts';
import { DatabaseError, DatabaseUnavailableError, LockLostError } from './runtime.ts';

/**
 * What of a run stays applied after it stopped, as the sentence its errors end with (the worker's
 * and the host's alike): "Nothing of this run was applied." or "The 2 migrations this run applied
 * stay applied (a.sql, b.sql)."
 */
export function describeKept(applied: readonly MigrationResult[]): string {
  if (applied.length === 0) return 'Nothing of this run was applied.';
  const many = applied.length !== 1;
  const files = applied.map((m) => m.file).join(', ');
  const stay = many ? 'stay' : 'stays';
  return `The ${count(applied.length, 'migration')} this run applied ${stay} applied (${files}).`;
}

/** How to resolve a non-transactional migration that failed midway, by the direction it ran in. */
export function resolveAdvice(version: string, direction: 'up' | 'down'): string {
  const sentences =
    direction === 'up'
      ? [
          'Either make the file safe to run again from its start',
          '("create table if not exists"; for an index left INVALID,',
          '"drop index concurrently if exists" before creating it) and run `offloop up` again;',
          'or finish or undo its work by hand,',
          'then run `offloop repair` (the next `up` runs it again)',
          `or \`offloop stamp ${version}\` (records it as applied).`,
        ]
      : [
          'It is still recorded as applied.',
          'Either finish the revert by hand and run `offloop stamp` with the version before it',
          '(or `--base`) to record it as reverted;',
          'or undo what ran by hand and run `offloop repair` (the next `down` runs it again);',
          'or make its down section safe to run again (e.g. "if exists"),',
          'accept the edit with `offloop repair`, and run `offloop down` again.',
        ];
  return sentences.join(' ');
}

/**
 * A database failure that ended a run between (or outside) migrations, with what the run had
 * finished: every error that ends a run says what stays applied.
 */
export function withApplied(error: unknown, finished: readonly MigrationResult[]): unknown {
  // Before anything ran (cannot connect, no rights) the message has nothing to add.
  const message = (text: string) =>
    finished.length === 0 ? text : `${text.replace(/\.?$/, '.')} ${describeKept(finished)}`;
  if (error instanceof DatabaseUnavailableError && error.details.applied === undefined) {
    return new DatabaseUnavailableError(
      message(error.message),
      { ...error.details, applied: [...finished] },
      { cause: error.cause },
    );
  }
  if (error instanceof DatabaseError && error.details.applied === undefined) {
    return new DatabaseError(
      message(error.message),
      { ...error.details, applied: [...finished] },
      { cause: error.cause },
    );
  }
  return error;
}

/**
 * The LOCK_LOST error for a run that stopped because its lock connection ended, with what stays
 * applied. `cause` is what the run tripped over; when that was a migration's failure (its own
 * connection went down with the lock's), the error names that migration.
 */
export function lockLostError(
  reason: unknown,
  finished: readonly MigrationResult[],
  cause: unknown,
): LockLostError {
  const lockKey = reason instanceof LockLostError ? reason.details.lockKey : '';
  const what =
    reason instanceof Error
      ? reason.message
      : "The migration lock's connection ended during the run.";
  const details =
    cause instanceof OffloopError ? (cause.details as { version?: unknown; file?: unknown }) : {};
  const version = typeof details.version === 'string' ? details.version : null;
  const file = typeof details.file === 'string' ? details.file : null;
  const running =
    file === null || cause === undefined
      ? ''
      : ` ${file} was running and failed with it: ${(cause as Error).message}`;
  return new LockLostError(
    `${what} The run stopped.${running} ${describeKept(finished)}`,
    { lockKey, applied: [...finished], version, file },
    { cause },
  );
}
