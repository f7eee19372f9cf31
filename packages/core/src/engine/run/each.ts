/**
 * The usual run loop: each migration in its own transaction (or none, for `transaction:false`),
 * one after the other, each by `applyOne`.
 */
import { lockLostError, RunAbortedError, type MigrationResult } from '../../errors/index.ts';
import type { ProgressEvent } from '../../model/events.ts';
import type { Prepared } from '../../model/prepared.ts';
import { applyInBatch, isBatchable } from '../apply/batched.ts';
import { LockRetries, withLockRetries } from '../apply/lock-retry.ts';
import type { ApplyContext } from '../apply/context.ts';
import { applyMigration } from '../apply/migration.ts';
import type { Session } from '../session.ts';

/** Apply (or revert) `items` in order; each finished one goes to `done` and the session's list. */
export async function runEach(
  session: Session,
  items: readonly Prepared[],
  done: MigrationResult[],
): Promise<void> {
  if (items.some((item) => item.migration.kind === 'module')) await session.modules.ready();
  for (const [index, item] of items.entries()) {
    const { migration } = item;
    // Nothing more starts once the lock is gone or a stop was asked for.
    if (session.apply.lockLost.aborted)
      throw lockLostError(session.apply.lockLost.reason, session.finished, undefined);
    if (session.apply.signal?.aborted === true)
      throw new RunAbortedError(
        `The run was cancelled before ${migration.file}.`,
        { applied: [...session.finished] },
        { cause: session.apply.signal.reason },
      );
    // A serial migration waits for its turn across the fleet before it starts.
    const release =
      item.options.serial && session.apply.serial !== undefined
        ? await session.apply.serial(migration.version)
        : () => undefined;
    let result: MigrationResult;
    try {
      // A stop asked for while it waited for its turn.
      throwIfCancelled(session, migration.file);
      await session.emit(startedEvent(item, index, items.length));
      const context = { ...session.apply, done };
      // A transactional migration that timed out on a lock was rolled back: it runs again, a
      // new transaction each time (a module's `up` is called again).
      const retries = new LockRetries(context.config, item.options);
      result = await withLockRetries(retries, context, migration.version, () =>
        applyOne(session, item, context, retries),
      );
    } finally {
      release();
    }
    done.push(result);
    session.finished.push(result);
    await session.emit({
      type: 'migration:finished',
      ...result,
      index: index + 1,
      total: items.length,
    });
  }
}

function throwIfCancelled(session: Session, file: string): void {
  const { signal } = session.apply;
  if (signal?.aborted === true)
    throw new RunAbortedError(
      `The run was cancelled before ${file}.`,
      { applied: [...session.finished] },
      { cause: signal.reason },
    );
}

/**
 * One attempt at one migration: a transactional SQL one as one script on the work connection, a
 * module on slonik's connection, a non-transactional SQL one statement by statement on the work
 * connection (whose session is reset after it, as after a script).
 */
function applyOne(
  session: Session,
  item: Prepared,
  context: ApplyContext,
  retries: LockRetries,
): Promise<MigrationResult> {
  if (isBatchable(item)) return applyInBatch(session.work, item, context, retries);
  if (item.migration.kind === 'module')
    return session.modules.connect((connection) =>
      applyMigration(connection, item, context, retries),
    );
  return applyMigration(session.work, item, context, retries).finally(() =>
    session.work.resetSession(),
  );
}

/** The `migration:started` event of `item`, the `index`th (0-based) of `total`. */
export function startedEvent(item: Prepared, index: number, total: number): ProgressEvent {
  const { migration, direction, options } = item;
  return {
    type: 'migration:started',
    direction,
    version: migration.version,
    name: migration.name,
    file: migration.file,
    index: index + 1,
    total,
    transactional: options.transaction,
    checksum: migration.checksum,
  };
}
