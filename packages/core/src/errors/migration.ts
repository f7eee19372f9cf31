/** A migration that failed while running, and what a finished migration reports. */
import type { LockBlocker } from '../model/events.ts';
import { OffloopError } from './base.ts';

/** What a finished migration reports. */
export type MigrationResult = {
  readonly version: string;
  readonly name: string;
  readonly file: string;
  readonly direction: 'up' | 'down';
  readonly durationMs: number;
};

/** Details of {@link MigrationFailedError}. */
export type MigrationFailedDetails = {
  readonly version: string;
  readonly name: string;
  readonly file: string;
  /** 1-based line and column of the failing position (the statement's start, or PostgreSQL's error position within it). */
  readonly line: number | null;
  readonly column: number | null;
  /** 1-based index of the failing statement in the section, for SQL migrations. */
  readonly statement: number | null;
  readonly statementCount: number | null;
  readonly direction: 'up' | 'down';
  /** Whether the migration ran in a transaction (and so left nothing behind). */
  readonly transactional: boolean;
  /** Statements that completed before the failure; in a non-transactional migration they stay applied. */
  readonly statementsRun: number;
  /** PostgreSQL's SQLSTATE, when the database reported the failure. */
  readonly sqlstate: string | null;
  readonly detail: string | null;
  readonly hint: string | null;
  /** Migrations applied by this run before the failure; they stay applied (unless the run was one transaction). */
  readonly applied: readonly MigrationResult[];
  /**
   * INVALID indexes a failed `CREATE INDEX CONCURRENTLY` / `REINDEX ... CONCURRENTLY` of a
   * non-transactional migration left behind, as PostgreSQL names them; empty otherwise.
   */
  readonly invalidIndexes: readonly string[];
};

/**
 * Base of every error that means "this migration failed while running": one `instanceof` catches
 * them all, whatever the reason (an error, `statement_timeout`, `lock_timeout`, `migrationTimeout`,
 * transaction control in a module). Each keeps its own `code`; `details` are always
 * {@link MigrationFailedDetails}, plus what the subclass adds.
 *
 * @example
 * ```ts
 * try {
 *   await migrator.up();
 * } catch (error) {
 *   if (error instanceof MigrationFailure) console.error(error.details.file, error.details.line);
 *   throw error;
 * }
 * ```
 */
export abstract class MigrationFailure<
  C extends MigrationFailureCode = MigrationFailureCode,
  D extends MigrationFailedDetails = MigrationFailedDetails,
> extends OffloopError<C, D> {}

/** The codes of {@link MigrationFailure}'s subclasses. */
export type MigrationFailureCode =
  | 'MIGRATION_FAILED'
  | 'MIGRATION_TIMEOUT'
  | 'MIGRATION_TRANSACTION_CONTROL'
  | 'STATEMENT_TIMEOUT'
  | 'LOCK_NOT_AVAILABLE';

/** A migration failed while running; its transaction was rolled back and the run stopped. */
export class MigrationFailedError extends MigrationFailure<
  'MIGRATION_FAILED',
  MigrationFailedDetails
> {
  readonly code = 'MIGRATION_FAILED';
}

/** PostgreSQL cancelled a statement for exceeding `statement_timeout` (SQLSTATE 57014). */
export class StatementTimeoutError extends MigrationFailure<
  'STATEMENT_TIMEOUT',
  MigrationFailedDetails
> {
  readonly code = 'STATEMENT_TIMEOUT';
}

/** Details of {@link LockNotAvailableError}. */
export type LockNotAvailableDetails = MigrationFailedDetails & {
  /** Attempts made, the first included (more than 1 after retries; see `lockRetries`). */
  readonly attempts: number;
  /** The sessions the last attempt waited for, as seen while it waited; empty if none was seen. */
  readonly blockedBy: readonly LockBlocker[];
};

/**
 * A statement waited longer than `lock_timeout` for a lock (SQLSTATE 55P03), on its last attempt:
 * the retries (`lockRetries`) ran out. `details.blockedBy` names the sessions it waited for.
 */
export class LockNotAvailableError extends MigrationFailure<
  'LOCK_NOT_AVAILABLE',
  LockNotAvailableDetails
> {
  readonly code = 'LOCK_NOT_AVAILABLE';
}

/** One migration ran longer than its `migrationTimeout`; it was cancelled and rolled back. */
export class MigrationTimeoutError extends MigrationFailure<
  'MIGRATION_TIMEOUT',
  MigrationFailedDetails & { readonly timeoutMs: number }
> {
  readonly code = 'MIGRATION_TIMEOUT';
}

/**
 * A JavaScript/TypeScript migration tried to end or reshape the transaction offloop runs it in
 * (`COMMIT`, `ROLLBACK`, `SAVEPOINT`/`RELEASE` misuse, `SET TRANSACTION`, ...) through
 * `ctx.connection`. The statement was not run; the migration was rolled back and nothing of it
 * was recorded. `details.command` names what it tried.
 */
export class MigrationTransactionControlError extends MigrationFailure<
  'MIGRATION_TRANSACTION_CONTROL',
  MigrationFailedDetails & { readonly command: string }
> {
  readonly code = 'MIGRATION_TRANSACTION_CONTROL';
}

// Messages: the errors above whose text is more than "where: what PostgreSQL said. aftermath".
// `where` is the file (and position), `which` names the statement, `aftermath` says what stays.

/** MIGRATION_TRANSACTION_CONTROL: a module migration tried to end or change offloop's transaction. */
export function transactionControlMessage(
  where: string,
  command: string,
  aftermath: string,
): string {
  return [
    `${where}: ${command} through ctx.connection:`,
    "the migration runs in offloop's transaction, with its version row,",
    'and may not end or change it;',
    'the statement was not sent.',
    'Use ctx.connection.transaction() for a nested unit of work,',
    `or export \`transaction = false\` to manage transactions yourself. ${aftermath}`,
  ].join(' ');
}

/**
 * LOCK_NOT_AVAILABLE: `failure` is PostgreSQL's message, its SQLSTATE and the statement;
 * `attempts` how many were made; `blockedBy` who held the lock, as seen while it waited.
 */
export function lockNotAvailableMessage(
  where: string,
  failure: string,
  concurrentIndex: boolean,
  aftermath: string,
  retried: { readonly attempts: number; readonly blockedBy: readonly LockBlocker[] } = {
    attempts: 1,
    blockedBy: [],
  },
): string {
  const waitsForAll = concurrentIndex
    ? ' (a concurrent index build also waits for every transaction that began before it, ' +
      'on any table, to end)'
    : '';
  const each = retried.attempts > 1 ? `, on each of ${retried.attempts} attempts` : '';
  const who =
    retried.blockedBy.length === 0
      ? ''
      : ` It waited for ${retried.blockedBy.map(describeBlocker).join('; and for ')}.`;
  return (
    `${where}: ${failure}: another session held a lock longer than lock_timeout` +
    `${waitsForAll}${each}.${who} ${aftermath}`
  );
}

/** `backend 123 (application "report", user alice, idle in transaction, transaction open 45.2 s): select ...` */
function describeBlocker(blocker: LockBlocker): string {
  const facts = [
    blocker.applicationName === '' ? null : `application "${blocker.applicationName}"`,
    blocker.user === null ? null : `user ${blocker.user}`,
    blocker.state,
    blocker.transactionMs === null
      ? null
      : `transaction open ${(blocker.transactionMs / 1000).toFixed(1)} s`,
  ].filter((fact) => fact !== null);
  const query =
    blocker.query === null || blocker.query.trim() === ''
      ? ''
      : `: ${blocker.query.replaceAll(/\s+/g, ' ').trim()}`;
  return `backend ${blocker.pid}${facts.length === 0 ? '' : ` (${facts.join(', ')})`}${query}`;
}

/** MIGRATION_TIMEOUT: the migration ran past `migrationTimeout` and was cancelled. */
export function migrationTimeoutMessage(
  where: string,
  version: string,
  timeoutMs: number,
  which: string,
  aftermath: string,
): string {
  return (
    `${where}: migration ${version} ran longer than migrationTimeout (${timeoutMs} ms) ` +
    `and was cancelled${which}. ${aftermath}`
  );
}
