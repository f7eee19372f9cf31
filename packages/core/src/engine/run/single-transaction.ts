/**
 * A run as one transaction (`singleTransaction`): every migration in a savepoint of it, all
 * committed at once or none. Its failure is logged after the rollback, which took the entry the
 * failing migration wrote.
 */
import { MigrationFailedError, OffloopError, type MigrationResult } from '../../errors/index.ts';
import type { Prepared } from '../../model/prepared.ts';
import { assertSingleTransaction } from '../../plan/checks.ts';
import { LockRetries } from '../apply/lock-retry.ts';
import { applyMigration } from '../apply/migration.ts';
import { currentSettings } from '../apply/timeouts.ts';
import type { Db } from '../db/db.ts';
import { findPgError } from '../db/pg-errors.ts';
import { appendLog } from '../ledger/log-table.ts';
import type { Session } from '../session.ts';
import { startedEvent } from './each.ts';

/** Which migration failed inside the one transaction, with what, after how long. */
type Failed = { readonly item: Prepared; readonly error: unknown; readonly durationMs: number };

/** Apply `items` in one transaction; they go to `done` (and are reported finished) after its COMMIT. */
export async function runSingleTransaction(
  session: Session,
  items: readonly Prepared[],
  done: MigrationResult[],
): Promise<void> {
  assertSingleTransaction(items);
  if (items.some((item) => item.migration.kind === 'module')) await session.modules.ready();
  const finished: MigrationResult[] = [];
  // Set inside the transaction's callback; read after its rollback.
  const failed: { at: Failed | null } = { at: null };
  try {
    const run = (connection: Db) =>
      connection.transaction((transaction) =>
        applyAll(session, transaction, items, { finished, failed }),
      );
    // A module's `ctx.connection` is slonik's: with one among them, the whole transaction is.
    if (items.some((item) => item.migration.kind === 'module')) await session.modules.connect(run);
    else await run(session.work).finally(() => session.work.resetSession());
  } catch (error) {
    // Every migration ran, and the COMMIT failed: a deferred constraint or trigger of one of them.
    const last = items.at(-1);
    const commitFailure =
      failed.at === null && last !== undefined && finished.length === items.length
        ? atCommit(error, last, finished.length)
        : null;
    const failure =
      failed.at ??
      (last !== undefined && commitFailure instanceof MigrationFailedError
        ? { item: last, error: commitFailure, durationMs: 0 }
        : null);
    if (failure === null) throw error;
    await logFailure(session, failure);
    throw failure.error;
  }
  done.push(...finished);
  session.finished.push(...finished);
  // Only the COMMIT applies them: a later migration or the COMMIT failing rolls back every one,
  // so none is reported as finished (applied) before it. The host also counts these events as
  // what stays applied when a run is stopped.
  for (const [index, result] of finished.entries()) {
    await session.emit({
      type: 'migration:finished',
      ...result,
      index: index + 1,
      total: items.length,
    });
  }
}

/** Inside the one transaction: each migration in a savepoint of it, in order. */
async function applyAll(
  session: Session,
  transaction: Db,
  items: readonly Prepared[],
  { finished, failed }: { finished: MigrationResult[]; failed: { at: Failed | null } },
): Promise<void> {
  // Each migration's timeouts are `set local` in its savepoint, which lasts to the end of the
  // whole transaction: the next migration starts from these values again.
  const { lockTimeout, statementTimeout } = await currentSettings(transaction);
  const defaults = { lockTimeout, statementTimeout };
  for (const [index, item] of items.entries()) {
    // Every migration of a single-transaction run is transactional (assertSingleTransaction).
    await session.emit(startedEvent(item, index, items.length));
    const started = performance.now();
    try {
      // Each migration is a savepoint inside the one transaction; a failure rolls back all of
      // them, and nothing of the run stays applied.
      const result = await applyMigration(
        transaction,
        item,
        {
          ...session.apply,
          done: [],
          singleTransaction: { ...defaults, rolledBack: finished.length },
        },
        new LockRetries(session.apply.config, item.options),
      );
      finished.push(result);
    } catch (error) {
      failed.at = { item, error, durationMs: performance.now() - started };
      throw error;
    }
  }
}

/** The failure's log entry was written inside the transaction and rolled back with it: again. */
async function logFailure(session: Session, failure: Failed): Promise<void> {
  const { migration, direction } = failure.item;
  const reason =
    failure.error instanceof OffloopError
      ? `${failure.error.code}: ${failure.error.message}`
      : String(failure.error);
  await appendLog(session.work, session.apply.versionTable, {
    version: migration.version,
    name: migration.name,
    direction,
    checksum: migration.checksum,
    outcome: 'failed',
    appliedBy: session.apply.appliedBy,
    durationMs: failure.durationMs,
    error: reason,
    statementsRun: null,
  }).catch(() => undefined);
}

/** A single-transaction run whose COMMIT failed, as the failure of its last migration. */
function atCommit(error: unknown, last: Prepared, rolledBack: number): unknown {
  if (error instanceof OffloopError) return error;
  const pg = findPgError(error);
  if (pg === null) return error;
  const { migration, direction, options } = last;
  return new MigrationFailedError(
    'The single transaction of this run failed at its COMMIT, after all ' +
      `${rolledBack} migrations ran: ${pg.message} (SQLSTATE ${pg.sqlstate}). A deferred ` +
      'constraint or trigger of one of them failed. The whole run was rolled back: nothing of it ' +
      'stays applied.',
    {
      version: migration.version,
      name: migration.name,
      file: migration.file,
      direction,
      transactional: options.transaction,
      line: null,
      column: null,
      statement: null,
      statementCount: 'statements' in last ? last.statements.length : null,
      statementsRun: 0,
      sqlstate: pg.sqlstate,
      detail: pg.detail,
      hint: pg.hint,
      applied: [],
      invalidIndexes: [],
    },
    { cause: error },
  );
}
