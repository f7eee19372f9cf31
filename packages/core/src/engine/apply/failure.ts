/**
 * A migration that did not finish: the typed error for what happened, what it left in the
 * database, and its log entry, written outside its rolled-back transaction.
 */
import { pathToFileURL } from 'node:url';
import type { Db } from '../db/db.ts';
import type { VersionTable } from '../../sql/ddl.ts';
import {
  LockLostError,
  LockNotAvailableError,
  lockNotAvailableMessage,
  MigrationFailedError,
  MigrationTimeoutError,
  migrationTimeoutMessage,
  MigrationTransactionControlError,
  OffloopError,
  resolveAdvice,
  RunAbortedError,
  StatementTimeoutError,
  transactionControlMessage,
  type MigrationFailedDetails,
  type MigrationResult,
} from '../../errors/index.ts';
import type { LockBlocker } from '../../model/events.ts';
import type { LogEntry } from '../../model/migration.ts';
import type { Prepared } from '../../model/prepared.ts';
import { lineColumnAt } from '../../files/source-position.ts';
import { isConcurrentIndexBuild } from '../../plan/transaction-rules.ts';
import { messageOf } from '../../util/as-error.ts';
import { count } from '../../util/count.ts';
import { retry } from '../../util/poll.ts';
import { findPgError } from '../db/pg-errors.ts';
import { appendLog } from '../ledger/log-table.ts';
import type { BodyOutcome, CancelReason } from './cancel.ts';
import type { ApplyContext, Position, Recorded } from './context.ts';
import { invalidIndexes } from './index-check.ts';
import { LockTimedOut, type LockRetries } from './lock-retry.ts';

/**
 * The result of a migration that ran, or its typed error, logged outside its transaction. An
 * attempt of a transactional migration that timed out on a lock and may be retried
 * (`run.retries`) throws {@link LockTimedOut} instead, and logs nothing: it was rolled back.
 */
export async function finish(
  logTo: Db,
  item: Prepared,
  context: ApplyContext,
  run: {
    started: number;
    position: Position;
    outcome: BodyOutcome<unknown>;
    positionInStatement: number | null;
    recorded: Recorded;
    retries?: LockRetries | undefined;
  },
): Promise<MigrationResult> {
  const { migration, direction, options } = item;
  const { started, position, outcome } = run;
  if ('value' in outcome) {
    // The duration the version and log rows hold, so that what the run reports is what `history` shows.
    const durationMs = run.recorded.durationMs ?? Math.round(performance.now() - started);
    return {
      version: migration.version,
      name: migration.name,
      file: migration.file,
      direction,
      durationMs,
    };
  }
  const { retries } = run;
  if (mayRetry(item, context, outcome, retries))
    throw new LockTimedOut(position.lockWait?.blockedBy ?? [], { cause: outcome.error });
  const lastSeen = retries?.seen(position.lockWait?.blockedBy ?? []) ?? [];
  const leftovers = await leftoversOf(logTo, item, context, position);
  const failure = toFailure(
    item,
    position,
    outcome.error,
    outcome.reason,
    context,
    run.positionInStatement,
    leftovers,
    { attempts: retries?.attempt ?? 1, blockedBy: lastSeen },
  );
  const partial = leavesWork(item, position, leftovers);
  // The migration's transaction is gone; the log entry goes in on its own. (In a
  // single-transaction run, the run logs the failure after its rollback.) A run that lost the
  // lock writes nothing more: another runner may hold it now, and its log is the one that counts
  // (a non-transactional migration's `started` row already says it never finished).
  // Nor does a non-transactional migration whose connection was lost: whether the statement in
  // flight ran to its end on the server is unknown, and its `started` row says so.
  if (
    context.singleTransaction === undefined &&
    outcome.reason !== 'lock-lost' &&
    !(!options.transaction && connectionLost(outcome.error))
  ) {
    await appendLogPersistently([logTo, context.logFallback], context.versionTable, {
      version: migration.version,
      name: migration.name,
      direction,
      checksum: migration.checksum,
      outcome: partial ? 'partial' : 'failed',
      appliedBy: context.appliedBy,
      durationMs: performance.now() - started,
      error: `${failure.code}: ${failure.message}`,
      statementsRun: 'statements' in item ? position.completed : null,
      attempts: retries?.attempt ?? 1,
    });
  }
  throw failure;
}

/**
 * Whether a failed attempt may be tried again (`withLockRetries`): a transactional migration's
 * lock timeout (55P03), outside a single-transaction run, with attempts left.
 */
function mayRetry(
  item: Prepared,
  context: ApplyContext,
  outcome: { readonly error: unknown; readonly reason: CancelReason | null },
  retries: LockRetries | undefined,
): boolean {
  return (
    retries !== undefined &&
    outcome.reason === null &&
    item.options.transaction &&
    context.singleTransaction === undefined &&
    findPgError(outcome.error)?.sqlstate === '55P03' &&
    retries.canRetry(retries.attempt)
  );
}

/**
 * What a failed non-transactional run leaves behind: the statements that completed, what a
 * module did, an INVALID index of a concurrent build, the work of an earlier failed run.
 */
async function leftoversOf(
  logTo: Db,
  item: Prepared,
  context: ApplyContext,
  position: Position,
): Promise<Leftovers> {
  const leftovers: Leftovers = { invalidIndexes: [], earlier: undefined };
  if (item.options.transaction) return leftovers;
  if (
    position.statement !== null &&
    isConcurrentIndexBuild(position.statement.kind, position.statement.node)
  ) {
    const before = position.invalidBefore ?? new Set<string>();
    const now = await invalidIndexes(logTo, position.statement).catch(() => []);
    leftovers.invalidIndexes = now.filter((name) => !before.has(name));
  }
  leftovers.earlier = context.earlierFailure?.(item.migration.version);
  return leftovers;
}

/** Whether `error` is the loss of the connection (the driver's, or the server ending the session). */
function connectionLost(error: unknown): boolean {
  const pg = findPgError(error);
  return pg === null ? !(error instanceof OffloopError) : /^(57P0[1-3]|08...)$/.test(pg.sqlstate);
}

/** What a failed non-transactional migration may have left in the database besides its completed statements. */
type Leftovers = { invalidIndexes: string[]; earlier: LogEntry | undefined };

function leavesWork(item: Prepared, position: Position, leftovers: Leftovers): boolean {
  if (item.options.transaction) return false;
  return (
    position.completed > 0 ||
    !('statements' in item) ||
    leftovers.invalidIndexes.length > 0 ||
    leftovers.earlier !== undefined
  );
}

/**
 * Append the log row of a failure. A cancel sent for the failed statement can still arrive (it
 * is sent from another connection) and cancel this write instead: try again. The migration's
 * connection may be gone (a module's, terminated to stop it): then the run's work connection
 * writes it. A row that still cannot be written is given up: the failure itself is what the
 * caller must hear about.
 */
async function appendLogPersistently(
  [connection, fallback]: readonly [Db, Db | undefined],
  versionTable: VersionTable,
  row: Parameters<typeof appendLog>[2],
): Promise<void> {
  const append = (db: Db) =>
    retry(() => appendLog(db, versionTable, row), {
      attempts: 3,
      retryOn: (error) => findPgError(error)?.sqlstate === '57014',
    });
  await append(connection)
    .catch(async (error: unknown) => {
      if (fallback !== undefined && fallback !== connection && connectionLost(error))
        await append(fallback);
    })
    .catch(() => undefined);
}

/** What every error about one failed migration says: the facts, where, and what it left. */
type FailureFacts = {
  readonly details: MigrationFailedDetails;
  /** `file` or `file:line:column`. */
  readonly where: string;
  /** `, statement i of n`, or nothing for a module. */
  readonly which: string;
  /** PostgreSQL's message (or the error's), and its ` (SQLSTATE x)`. */
  readonly message: string;
  readonly sqlstate: string;
  readonly aftermath: string;
};

/**
 * The typed error for a migration that did not finish: stopped from outside (`reason`), or failed.
 * `positionInStatement`: PostgreSQL's 1-based error position within the failing statement, if any.
 */
function toFailure(
  item: Prepared,
  position: Position,
  error: unknown,
  reason: CancelReason | null,
  context: ApplyContext,
  positionInStatement: number | null,
  leftovers: Leftovers,
  retried: { readonly attempts: number; readonly blockedBy: readonly LockBlocker[] },
): OffloopError {
  if (error instanceof OffloopError && !(error instanceof MigrationFailedError))
    return error as OffloopError;
  const facts = failureFacts(item, position, error, context, positionInStatement, leftovers);
  return reason === null
    ? failedError(position, facts, error, retried)
    : stoppedError(reason, item, facts, context, error);
}

function failureFacts(
  item: Prepared,
  position: Position,
  error: unknown,
  context: ApplyContext,
  positionInStatement: number | null,
  leftovers: Leftovers,
): FailureFacts {
  const { migration, direction, options } = item;
  const pg = findPgError(error);
  let line: number | null = null;
  let column: number | null = null;
  if (position.statement !== null && migration.kind === 'sql') {
    const offset = position.statement.offset + (positionInStatement ?? 1) - 1;
    ({ line, column } = lineColumnAt(migration.source, offset));
  } else if (migration.kind === 'module') {
    ({ line, column } = moduleFrame(position.refused ?? error, migration.path) ?? {
      line: null,
      column: null,
    });
  }
  const statementCount = 'statements' in item ? item.statements.length : null;
  return {
    details: {
      version: migration.version,
      name: migration.name,
      file: migration.file,
      direction,
      transactional: options.transaction,
      line,
      column,
      statement: position.statement === null ? null : position.index + 1,
      statementCount,
      statementsRun: position.completed,
      sqlstate: pg?.sqlstate ?? null,
      detail: pg?.detail ?? null,
      hint: pg?.hint ?? null,
      applied: [...context.done],
      invalidIndexes: leftovers.invalidIndexes,
    },
    where: line === null ? migration.file : `${migration.file}:${line}:${column}`,
    which:
      position.statement === null ? '' : `, statement ${position.index + 1} of ${statementCount}`,
    message: pg?.message ?? messageOf(error),
    sqlstate: pg ? ` (SQLSTATE ${pg.sqlstate})` : '',
    aftermath: describeAftermath(item, position, context, leftovers),
  };
}

/** A migration stopped from outside: the lost lock, the caller's abort, its `migrationTimeout`. */
function stoppedError(
  reason: CancelReason,
  item: Prepared,
  { details, where, which, aftermath }: FailureFacts,
  context: ApplyContext,
  error: unknown,
): OffloopError {
  const { migration } = item;
  if (reason === 'lock-lost') {
    const lost: unknown = context.lockLost.reason;
    const what =
      lost instanceof Error
        ? lost.message
        : "The migration lock's connection ended during the run.";
    return new LockLostError(
      `${what} ${where} was running${which}: ` +
        `it was cancelled on the server before this was reported. ${aftermath}`,
      {
        lockKey: lost instanceof LockLostError ? lost.details.lockKey : '',
        applied: [...context.done],
        version: migration.version,
        file: migration.file,
      },
      { cause: error },
    );
  }
  if (reason === 'aborted') {
    return new RunAbortedError(
      `The run was cancelled during ${where}${which}. ${aftermath}`,
      { applied: [...context.done] },
      { cause: error },
    );
  }
  const timeoutMs = context.config.migrationTimeout;
  return new MigrationTimeoutError(
    migrationTimeoutMessage(where, migration.version, timeoutMs, which, aftermath),
    { ...details, timeoutMs },
    { cause: error },
  );
}

/** A migration that failed by itself, by what PostgreSQL (or the module guard) said. */
function failedError(
  position: Position,
  { details, where, which, message, sqlstate, aftermath }: FailureFacts,
  error: unknown,
  retried: { readonly attempts: number; readonly blockedBy: readonly LockBlocker[] },
): OffloopError {
  if (position.refused !== undefined) {
    const command = position.refused.command;
    return new MigrationTransactionControlError(
      transactionControlMessage(where, command, aftermath),
      { ...details, command },
      { cause: error },
    );
  }
  if (details.sqlstate === '57014') {
    return new StatementTimeoutError(
      `${where}: ${message}${sqlstate}${which}: ` +
        `the statement ran longer than statement_timeout. ${aftermath}`,
      details,
      { cause: error },
    );
  }
  if (details.sqlstate === '55P03') {
    const concurrentIndex =
      position.statement !== null &&
      isConcurrentIndexBuild(position.statement.kind, position.statement.node);
    return new LockNotAvailableError(
      lockNotAvailableMessage(
        where,
        `${message}${sqlstate}${which}`,
        concurrentIndex,
        aftermath,
        retried,
      ),
      { ...details, ...retried },
      { cause: error },
    );
  }
  return new MigrationFailedError(
    `${where}: ${message}${sqlstate}${which}. ${aftermath}`,
    details,
    {
      cause: error,
    },
  );
}

/**
 * Where in a module migration's own file an error arose: the first frame of its stack in that
 * file (V8 keeps `at async up (...)` frames across awaits).
 */
function moduleFrame(error: unknown, path: string): { line: number; column: number } | null {
  const stack = error instanceof Error ? error.stack : undefined;
  if (stack === undefined) return null;
  const href = pathToFileURL(path).href;
  for (const text of stack.split('\n')) {
    const at = text.indexOf(href);
    if (at < 0) continue;
    const match = /^(?:\?[^:)\s]*)?:(\d+):(\d+)/.exec(text.slice(at + href.length));
    if (match !== null) return { line: Number(match[1]), column: Number(match[2]) };
  }
  return null;
}

/** What the failure left in the database, what else of the run stays, and how to go on. */
function describeAftermath(
  item: Prepared,
  position: Position,
  context: ApplyContext,
  leftovers: Leftovers,
): string {
  const { migration, direction, options } = item;
  const parts: string[] = [];
  if (context.singleTransaction !== undefined) {
    const before = context.singleTransaction.rolledBack;
    const including =
      before === 0 ? '' : `, including the ${count(before, 'migration')} that ran before this one`;
    parts.push(
      'The whole run was one transaction (singleTransaction) and was rolled back: ' +
        `nothing of it stays applied${including}.`,
    );
    return parts.join(' ');
  }
  if (options.transaction) {
    parts.push(`Migration ${migration.version} was rolled back.`);
  } else if (leavesWork(item, position, leftovers)) {
    const ran =
      'statements' in item
        ? position.completed === 0
          ? 'none of its statements completed in this run'
          : position.completed === 1
            ? 'its first statement ran and stays applied'
            : `its statements 1-${position.completed} ran and stay applied`
        : 'what its module did before failing stays applied';
    const extra: string[] = [];
    const indexes = leftovers.invalidIndexes;
    if (indexes.length > 0) {
      const one = indexes.length === 1;
      extra.push(
        `PostgreSQL left ${one ? 'the index' : 'the indexes'} ${indexes.join(', ')} behind, ` +
          `marked INVALID: drop ${one ? 'it' : 'them'} (drop index concurrently) ` +
          'before running this again',
      );
    }
    if (leftovers.earlier !== undefined) {
      const earlierRan = leftovers.earlier.statementsRun;
      const left = earlierRan === null ? 'part of it' : count(earlierRan, 'statement');
      extra.push(`an earlier run at ${leftovers.earlier.at} had already left ${left} applied`);
    }
    parts.push(
      `Migration ${migration.version} is not transactional: ${[ran, ...extra].join('; ')}.`,
      'Until this is resolved, the next runs refuse to start.',
      resolveAdvice(migration.version, direction),
    );
  } else {
    parts.push(
      `Migration ${migration.version} is not transactional, but none of its statements ran: ` +
        'nothing of it stays applied, and the next run tries it again.',
    );
  }
  const kept = context.done.length;
  if (kept > 0)
    parts.push(
      `The ${count(kept, 'migration')} before it in this run ${kept === 1 ? 'stays' : 'stay'} ` +
        `${direction === 'up' ? 'applied' : 'reverted'}.`,
    );
  return parts.join(' ');
}
