/**
 * The usual run loop: each migration in its own transaction (or none, for `transaction:false`),
 * one after the other. A transactional SQL migration goes as one script on the batch connection;
 * the others statement by statement on a connection of the pool.
 */
import { lockLostError, RunAbortedError, type MigrationResult } from '../../errors/index.ts';
import type { ProgressEvent } from '../../model/events.ts';
import type { Prepared } from '../../model/prepared.ts';
import { applyInBatch, isBatchable } from '../apply/batched.ts';
import { LockRetries, withLockRetries } from '../apply/lock-retry.ts';
import { applyMigration } from '../apply/migration.ts';
import type { Session } from '../session.ts';

/** Apply (or revert) `items` in order; each finished one goes to `done` and the session's list. */
export async function runEach(
  session: Session,
  items: readonly Prepared[],
  done: MigrationResult[],
): Promise<void> {
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
    await session.emit(startedEvent(item, index, items.length));
    const context = { ...session.apply, done };
    // A transactional migration that timed out on a lock was rolled back: it runs again, a
    // new transaction each time (a module's `up` is called again).
    const retries = new LockRetries(context.config, item.options);
    const result = await withLockRetries(retries, context, migration.version, () =>
      isBatchable(item)
        ? applyInBatch(session.batch, session.pools.pool, item, context, retries)
        : session.pools.pool.connect((connection) =>
            applyMigration(connection, item, context, retries),
          ),
    );
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
