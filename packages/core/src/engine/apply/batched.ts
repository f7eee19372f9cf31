/**
 * The batched path: a transactional SQL migration sent as one script (`begin`, its statements,
 * its version and log rows, `commit`) on the work connection, one round trip.
 */
import type { MigrationResult } from '../../errors/index.ts';
import { indexOfCharPosition } from '../../files/source-position.ts';
import type { Prepared, Statement } from '../../model/prepared.ts';
import { recordStatements, transactionScript, type TransactionScript } from '../../sql/script.ts';
import { searchPathSetting, timeoutSettings } from '../../sql/settings.ts';
import type { WorkConnection } from '../db/work-connection.ts';
import { findPgError } from '../db/pg-errors.ts';
import { recordedDuration } from '../ledger/log-table.ts';
import { isApplied } from '../ledger/version-table.ts';
import { cancelUntilSettled, withCancellation } from './cancel.ts';
import type { ApplyContext, Position, Recorded } from './context.ts';
import { finish } from './failure.ts';
import { sampling, type LockRetries } from './lock-retry.ts';

/** A transactional SQL migration, ready to be sent as one script. */
export type BatchablePrepared = Prepared & { readonly statements: readonly Statement[] };

/** Whether {@link applyInBatch} can run `item`: a transactional SQL migration. */
export function isBatchable(item: Prepared): item is BatchablePrepared {
  return item.options.transaction && 'statements' in item;
}

/**
 * Apply or revert a transactional SQL migration as one script on `work` (see `db/work-connection.ts`): one
 * round trip for `begin`, its statements, its version and log rows, and `commit`. A failure is
 * logged on the same connection and reported like {@link applyMigration} reports it: the statement that
 * failed, with its file, line and column. One attempt, with the `lock_timeout` of `retries`'s
 * current one (see `withLockRetries`).
 */
export async function applyInBatch(
  work: WorkConnection,
  item: BatchablePrepared,
  context: ApplyContext,
  retries: LockRetries,
): Promise<MigrationResult> {
  const { migration, statements } = item;
  const started = performance.now();
  const position: Position = { statement: null, index: -1, completed: 0 };
  let positionInStatement: number | null = null;
  const script = scriptOf(item, context, retries);
  const recorded: Recorded = { durationMs: null };
  const committed = () => wasCommitted(work, item, context, recorded);

  const outcome = await withCancellation(
    context,
    migration.version,
    async (signal, setBackend) => {
      const pid = await work.prepare();
      setBackend(pid);
      await context.emit({ type: 'migration:backend', version: migration.version, pid });
      if (signal.aborted) throw signal.reason;
      const sent = await cancelUntilSettled(work.batch(script.text), signal, () =>
        context.cancelBackend(pid),
      );
      if (sent.ok) {
        // The recording statements return the duration they stored (see `recordStatements`).
        recorded.durationMs = sent.last === null ? null : Number(sent.last);
        return;
      }
      const pg = findPgError(sent.error);
      if (pg === null) {
        // The connection broke mid-batch. The server may hold messages it had not flushed, so the
        // count says nothing, and the backend may still run, and commit, what it received: end
        // it, then let the version table say what happened.
        await context.terminateBackend(pid);
        if (await committed()) return;
        throw sent.error;
      }
      await work.recover();
      const index = statementAt(script, sent.completed, pg.position);
      // A cancel that arrives while the commit runs is raised after it: PostgreSQL reports an
      // error for a transaction that committed. Past the migration's own statements, the version
      // table says what happened.
      // Only errors that can arrive after a commit count (a cancel, the session ended): a unique
      // violation on the version row means another runner recorded it, not that this one did.
      if (index >= statements.length && MAY_FOLLOW_COMMIT.test(pg.sqlstate) && (await committed()))
        return;
      positionInStatement = pointAt(script, statements, index, pg.position, position);
      throw sent.error;
    },
    sampling(retries, position),
  );
  return finish(work, item, context, {
    started,
    position,
    outcome,
    positionInStatement,
    recorded,
    retries,
  });
}

/** The one script of `item`: `begin`, its settings, its statements, its recording, `commit`. */
function scriptOf(
  item: BatchablePrepared,
  context: ApplyContext,
  retries: LockRetries,
): TransactionScript {
  const { migration, direction, options, statements } = item;
  return transactionScript(
    statements,
    [
      // With lockUrl the session has no search_path of offloop's: the migration sets it.
      ...(context.searchPath === null ? [] : [searchPathSetting(context.searchPath)]),
      ...timeoutSettings(context.config, options, undefined, retries.timeoutMs),
    ],
    recordStatements(context.versionTable, migration, direction, {
      appliedBy: context.appliedBy,
      duration: 'measured',
      attempts: retries.attempt,
    }),
  );
}

/**
 * Whether the version table says `item` committed (its row is there after `up`, gone after
 * `down`); if so, the duration its rows hold goes in `recorded`.
 */
async function wasCommitted(
  work: WorkConnection,
  item: BatchablePrepared,
  context: ApplyContext,
  recorded: Recorded,
): Promise<boolean> {
  const { migration, direction } = item;
  if ((await isApplied(work, context.versionTable, migration.version)) !== (direction === 'up'))
    return false;
  recorded.durationMs = await recordedDuration(
    work,
    context.versionTable,
    migration.version,
    direction,
  );
  return true;
}

/**
 * Point `position` at statement `index` of the script, the one that failed, and return PostgreSQL's
 * error position (`scriptPosition`, counted from the start of the whole script) within it.
 */
function pointAt(
  script: TransactionScript,
  statements: readonly Statement[],
  index: number,
  scriptPosition: number | null,
  position: Position,
): number | null {
  const statement = statements[index];
  const start = script.starts[index];
  if (statement !== undefined && start !== undefined) {
    position.statement = statement;
    position.index = index;
    position.completed = index;
    const at = scriptPosition === null ? null : indexOfCharPosition(script.text, scriptPosition);
    return at !== null && at >= start ? at - start + 1 : null;
  }
  // The recording statements or the commit failed.
  if (index >= statements.length) position.completed = statements.length;
  return null;
}

/**
 * Which statement of the migration failed: the one after the last that completed (`begin` and
 * the settings complete first). Before anything completed, PostgreSQL rejected the whole script
 * while parsing it (a syntax this server does not know): its position says where. Past the last
 * statement: the recording statements or the commit.
 */
function statementAt(
  script: TransactionScript,
  completed: number,
  position: number | null,
): number {
  const index = completed - script.before;
  if (index >= 0 || position === null) return index;
  const at = indexOfCharPosition(script.text, position);
  let found = -1;
  for (const [candidate, start] of script.starts.entries()) if (start <= at) found = candidate;
  return found;
}

/** SQLSTATEs a batch may report although its COMMIT went through: query cancelled, session ended. */
const MAY_FOLLOW_COMMIT = /^(57014|57P0[1-3]|08...)$/;
