/**
 * Running one migration in one direction, statement by statement: in its own transaction with
 * its version row and log entry, or (with `transaction:false`) outside one, with the version row
 * after the last statement. Transactional SQL migrations usually go the batched path instead
 * (`batched.ts`); this one serves modules, non-transactional migrations and `singleTransaction`.
 * Failures become typed errors with the file, line and column of the failing statement
 * (`failure.ts`).
 */
import type { CommonQueryMethods } from 'slonik';
import type { MigrationResult } from '../../errors/index.ts';
import { indexOfCharPosition } from '../../files/source-position.ts';
import type { Prepared } from '../../model/prepared.ts';
import { isConcurrentIndexBuild } from '../../plan/transaction-rules.ts';
import { timeoutSettings } from '../../sql/settings.ts';
import { findPgError } from '../db/pg-errors.ts';
import { rawQuery } from '../db/pools.ts';
import { appendLog } from '../ledger/log-table.ts';
import { deleteApplied, insertApplied } from '../ledger/version-table.ts';
import { withCancellation } from './cancel.ts';
import type { ApplyContext, Position, Recorded } from './context.ts';
import { finish } from './failure.ts';
import { assertIndexValid, invalidIndexes } from './index-check.ts';
import { runModule } from './module.ts';
import { currentTimeouts, restoreTimeouts } from './timeouts.ts';

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
};

/** Apply or revert one migration on `connection` (a connection of the run's pool). */
export async function applyMigration(
  connection: CommonQueryMethods,
  item: Prepared,
  context: ApplyContext,
): Promise<MigrationResult> {
  const { migration, options } = item;
  const applying: ApplyingMigration = {
    item,
    context,
    settings: timeoutSettings(context.config, options, context.singleTransaction),
    started: performance.now(),
    position: { statement: null, index: -1, completed: 0 },
    recorded: { durationMs: null },
  };
  const outcome = await withCancellation(context, migration.version, async (signal, setBackend) => {
    const pid = await context.backendPids.of(connection);
    setBackend(pid);
    await context.emit({ type: 'migration:backend', version: migration.version, pid });
    if (options.transaction) await inTransaction(connection, applying, signal);
    else await outsideTransaction(connection, applying, signal);
  });
  // PostgreSQL's position counts characters within the statement that failed.
  const { position } = applying;
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
  });
}

/** The body and its version and log rows in one transaction. */
async function inTransaction(
  connection: CommonQueryMethods,
  applying: ApplyingMigration,
  signal: AbortSignal,
): Promise<void> {
  await connection.transaction(async (transaction) => {
    await runBody(transaction, applying, signal, true);
    await recordSuccess(transaction, applying);
    if (signal.aborted) throw signal.reason;
  }, 0);
}

/** A `transaction:false` migration: its `started` log row, the body, then its version row. */
async function outsideTransaction(
  connection: CommonQueryMethods,
  applying: ApplyingMigration,
  signal: AbortSignal,
): Promise<void> {
  const { item, context } = applying;
  // Written before anything runs: a run that dies midway (a killed process, a lost
  // connection) leaves this as the version's last word, and the next run knows.
  await appendLog(connection, context.config, {
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
  // Session-level settings for a non-transactional migration, restored afterwards.
  const saved = applying.settings.length === 0 ? null : await currentTimeouts(connection);
  try {
    await runBody(connection, applying, signal, false);
  } finally {
    if (saved !== null) await restoreTimeouts(connection, saved);
  }
  await connection.transaction((transaction) => recordSuccess(transaction, applying), 0);
}

/** The migration's settings, then its statements or its module. `local`: inside its transaction. */
async function runBody(
  connection: CommonQueryMethods,
  applying: ApplyingMigration,
  signal: AbortSignal,
  local: boolean,
): Promise<void> {
  for (const setting of applying.settings)
    await connection.query(rawQuery(`set ${local ? 'local ' : ''}${setting}`));
  const { item } = applying;
  if ('statements' in item) await runStatements(connection, item, applying.position, signal);
  else await runModule(connection, item, applying.position, signal, applying.context);
  // After a stop nothing more commits, whatever the body did.
  if (signal.aborted) throw signal.reason;
}

/** A SQL section's statements, one query each, keeping `position` up to date for errors. */
async function runStatements(
  connection: CommonQueryMethods,
  item: Extract<Prepared, { readonly statements: unknown }>,
  position: Position,
  signal: AbortSignal,
): Promise<void> {
  for (const [index, statement] of item.statements.entries()) {
    if (signal.aborted) throw signal.reason;
    position.statement = statement;
    position.index = index;
    const concurrent =
      !item.options.transaction && isConcurrentIndexBuild(statement.kind, statement.node);
    if (concurrent) position.invalidBefore = new Set(await invalidIndexes(connection, statement));
    await connection.query(rawQuery(statement.sql));
    if (concurrent) await assertIndexValid(connection, statement);
    position.completed = index + 1;
  }
  position.statement = null;
}

/** The version-table change and log entry of a migration that succeeded. */
async function recordSuccess(
  connection: CommonQueryMethods,
  applying: ApplyingMigration,
): Promise<void> {
  const { item, context } = applying;
  const { migration, direction } = item;
  const durationMs = Math.round(performance.now() - applying.started);
  if (direction === 'up') {
    await insertApplied(connection, context.config, {
      version: migration.version,
      name: migration.name,
      checksum: migration.checksum,
      durationMs,
      appliedBy: context.appliedBy,
    });
  } else {
    await deleteApplied(connection, context.config, migration.version);
  }
  await appendLog(connection, context.config, {
    version: migration.version,
    name: migration.name,
    direction,
    checksum: migration.checksum,
    outcome: 'succeeded',
    appliedBy: context.appliedBy,
    durationMs,
    error: null,
    statementsRun: null,
  });
  applying.recorded.durationMs = durationMs;
}
