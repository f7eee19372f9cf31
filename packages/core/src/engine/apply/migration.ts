/**
 * Running one migration in one direction, statement by statement: in its own transaction with
 * its version row and log entry, or (with `transaction:false`) outside one, with the version row
 * after the last statement. Transactional SQL migrations usually go the batched path instead
 * (`batched.ts`); this one serves modules, non-transactional migrations and `singleTransaction`.
 * Failures become typed errors with the file, line and column of the failing statement
 * (`failure.ts`). A transactional migration is one attempt here (see `withLockRetries`); a
 * non-transactional SQL migration retries a statement that timed out on a lock by itself.
 */
import type { MigrationResult } from '../../errors/index.ts';
import { indexOfCharPosition } from '../../files/source-position.ts';
import type { Prepared } from '../../model/prepared.ts';
import { isConcurrentIndexBuild } from '../../plan/transaction-rules.ts';
import { searchPathSetting, timeoutSettings } from '../../sql/settings.ts';
import { retry } from '../../util/poll.ts';
import { findPgError } from '../db/pg-errors.ts';
import type { Db } from '../db/db.ts';
import { SlonikDb } from '../db/module-pool.ts';
import { raw } from '../db/sql.ts';
import { appendLog } from '../ledger/log-table.ts';
import { deleteApplied, insertApplied } from '../ledger/version-table.ts';
import { withCancellation } from './cancel.ts';
import type { ApplyContext, Position, Recorded } from './context.ts';
import { finish } from './failure.ts';
import { reportRetry, sampling, type LockRetries } from './lock-retry.ts';
import { assertIndexValid, invalidIndexes } from './index-check.ts';
import { runModule } from './module.ts';
import { currentSettings, restoreSettings } from './timeouts.ts';

/** One migration being applied: what it is, the run it belongs to, and where it stands. */
type ApplyingMigration = {
  readonly item: Prepared;
  readonly context: ApplyContext;
  /** Its session settings, as `set` statement bodies. */
  readonly settings: readonly string[];
  /** `performance.now()` at its start. */
  readonly started: number;
  readonly position: Position;
  readonly recorded: Recorded;
  readonly retries: LockRetries;
};

/**
 * Apply or revert one migration on `connection` (the run's work connection; slonik's, for a
 * module), with the `lock_timeout` of `retries`'s current attempt.
 */
export async function applyMigration(
  connection: Db,
  item: Prepared,
  context: ApplyContext,
  retries: LockRetries,
): Promise<MigrationResult> {
  const { migration, options } = item;
  // A non-transactional module cannot be retried (offloop cannot know what it may repeat): it
  // gets only the lock_timeout it sets itself, not the short one meant for retries.
  const lockTimeoutMs =
    options.transaction || 'statements' in item ? retries.timeoutMs : options.lockTimeout;
  const position: Position = { statement: null, index: -1, completed: 0 };
  const applying: ApplyingMigration = {
    item,
    context,
    settings: [
      ...(context.searchPath === null ? [] : [searchPathSetting(context.searchPath)]),
      ...timeoutSettings(context.config, options, context.singleTransaction, lockTimeoutMs),
    ],
    started: performance.now(),
    position,
    recorded: { durationMs: null },
    retries,
  };
  const outcome = await withCancellation(
    context,
    migration.version,
    async (signal, setBackend) => {
      const pid = await connection.pid();
      setBackend(pid);
      await context.emit({ type: 'migration:backend', version: migration.version, pid });
      if (options.transaction) await inTransaction(connection, applying, signal);
      else await outsideTransaction(connection, applying, signal);
    },
    sampling(retries, position),
  );
  // PostgreSQL's position counts characters within the statement that failed.
  const at = findPgError('error' in outcome ? outcome.error : null)?.position ?? null;
  const positionInStatement =
    at === null || position.statement === null
      ? null
      : indexOfCharPosition(position.statement.sql, at) + 1;
  return finish(connection, item, context, {
    started: applying.started,
    position,
    outcome,
    positionInStatement,
    recorded: applying.recorded,
    retries,
  });
}

/** The body and its version and log rows in one transaction. */
async function inTransaction(
  connection: Db,
  applying: ApplyingMigration,
  signal: AbortSignal,
): Promise<void> {
  await connection.transaction(async (transaction) => {
    await runBody(transaction, applying, signal, true);
    await recordSuccess(transaction, applying);
    if (signal.aborted) throw signal.reason;
  });
}

/** A `transaction:false` migration: its `started` log row, the body, then its version row. */
async function outsideTransaction(
  connection: Db,
  applying: ApplyingMigration,
  signal: AbortSignal,
): Promise<void> {
  const { item, context } = applying;
  // Written before anything runs: a run that dies midway (a killed process, a lost
  // connection) leaves this as the version's last word, and the next run knows.
  await appendLog(connection, context.versionTable, {
    version: item.migration.version,
    name: item.migration.name,
    direction: item.direction,
    checksum: item.migration.checksum,
    outcome: 'started',
    appliedBy: context.appliedBy,
    durationMs: null,
    error: null,
    statementsRun: null,
  });
  // Session-level settings for a non-transactional migration, restored afterwards. With
  // lockUrl that includes its search_path, sent before its statements: through a pooler in
  // transaction mode each of them may reach another server connection (docs/locking.md).
  const saved = applying.settings.length === 0 ? null : await currentSettings(connection);
  try {
    await runBody(connection, applying, signal, false);
  } finally {
    if (saved !== null) await restoreSettings(connection, saved);
  }
  await connection.transaction((transaction) => recordSuccess(transaction, applying));
}

/** The migration's settings, then its statements or its module. `local`: inside its transaction. */
async function runBody(
  connection: Db,
  applying: ApplyingMigration,
  signal: AbortSignal,
  local: boolean,
): Promise<void> {
  for (const setting of applying.settings)
    await connection.run(raw(`set ${local ? 'local ' : ''}${setting}`));
  const { item } = applying;
  if ('statements' in item) await runStatements(connection, item, applying, signal);
  else if (connection instanceof SlonikDb)
    await runModule(connection, item, applying.position, signal, applying.context);
  else throw new Error(`offloop: ${item.migration.file} is a module and needs slonik's connection`);
  // After a stop nothing more commits, whatever the body did.
  if (signal.aborted) throw signal.reason;
}

/** A SQL section's statements, one query each, keeping `position` up to date for errors. */
async function runStatements(
  connection: Db,
  item: Extract<Prepared, { readonly statements: unknown }>,
  applying: ApplyingMigration,
  signal: AbortSignal,
): Promise<void> {
  const { position } = applying;
  // The session's lock_timeout, as the migration's settings left it.
  const session = { lockTimeoutMs: applying.retries.timeoutMs };
  for (const [index, statement] of item.statements.entries()) {
    if (signal.aborted) throw signal.reason;
    position.statement = statement;
    position.index = index;
    if (item.options.transaction) await connection.run(raw(statement.sql));
    else await runAlone(connection, statement, applying, signal, session);
    position.completed = index + 1;
  }
  position.statement = null;
}

/**
 * One statement of a non-transactional migration: it commits by itself, so when it times out on
 * a lock, nothing of it happened, and it alone is tried again (after a pause, with a longer
 * `lock_timeout`). A concurrent index build is the exception: it waits for older transactions,
 * not in the lock queue the application's queries wait in, and one that fails leaves an INVALID
 * index behind: it runs with no lock_timeout (unless the migration sets one) and is never retried.
 */
async function runAlone(
  connection: Db,
  statement: Extract<Prepared, { readonly statements: unknown }>['statements'][number],
  applying: ApplyingMigration,
  signal: AbortSignal,
  session: { lockTimeoutMs: number | null },
): Promise<void> {
  const { position, retries, item, context } = applying;
  const concurrent = isConcurrentIndexBuild(statement.kind, statement.node);
  await retry(
    async () => {
      const timeout = concurrent ? item.options.lockTimeout : retries.timeoutMs;
      if ((timeout ?? 0) !== (session.lockTimeoutMs ?? 0)) {
        await connection.run(raw(`set lock_timeout = '${timeout ?? 0}ms'`));
        session.lockTimeoutMs = timeout;
      }
      // Through a pooler in transaction mode (lockUrl), the statement may reach another server
      // connection than the migration's settings did: its search_path goes right before it.
      if (context.searchPath !== null)
        await connection.run(raw(`set ${searchPathSetting(context.searchPath)}`));
      position.lockWait = undefined;
      if (concurrent) position.invalidBefore = new Set(await invalidIndexes(connection, statement));
      await connection.run(raw(statement.sql));
      if (concurrent) await assertIndexValid(connection, statement);
    },
    {
      attempts: concurrent ? 1 : retries.attempts,
      retryOn: (error) => !signal.aborted && findPgError(error)?.sqlstate === '55P03',
      delayMs: (attempt) => retries.pauseMs(attempt + 1),
      onRetry: (_error, attempt, pauseMs) =>
        reportRetry(context, retries, {
          version: item.migration.version,
          statement: position.index + 1,
          attempt: attempt + 1,
          pauseMs,
          blockedBy: position.lockWait?.blockedBy ?? [],
        }),
      // A stop during the pause ends it: the migration then fails as stopped at this statement.
      signal,
    },
  );
}

/** The version-table change and log entry of a migration that succeeded. */
async function recordSuccess(connection: Db, applying: ApplyingMigration): Promise<void> {
  const { item, context } = applying;
  const { migration, direction } = item;
  const durationMs = Math.round(performance.now() - applying.started);
  if (direction === 'up') {
    await insertApplied(connection, context.versionTable, {
      version: migration.version,
      name: migration.name,
      checksum: migration.checksum,
      durationMs,
      appliedBy: context.appliedBy,
    });
  } else {
    await deleteApplied(connection, context.versionTable, migration.version);
  }
  await appendLog(connection, context.versionTable, {
    version: migration.version,
    name: migration.name,
    direction,
    checksum: migration.checksum,
    outcome: 'succeeded',
    appliedBy: context.appliedBy,
    durationMs,
    error: null,
    statementsRun: null,
    attempts: applying.retries.attempt,
  });
  applying.recorded.durationMs = durationMs;
}
