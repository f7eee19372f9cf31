/**
 * Running a JavaScript/TypeScript migration: the context it gets, on a connection guarded so that
 * it cannot end offloop's transaction or touch the database once it is over (guarded-connection.ts).
 */
import type { CommonQueryMethods } from 'slonik';
import type { MigrationContext } from '../../model/migration-context.ts';
import type { MigrationFile } from '../../model/migration.ts';
import type { Prepared } from '../../model/prepared.ts';
import type { SlonikDb } from '../db/module-pool.ts';
import { untilStopped } from './cancel.ts';
import type { ApplyContext, Position } from './context.ts';
import { guardConnection } from './guarded-connection.ts';

function moduleContext(
  connection: CommonQueryMethods,
  sql: SlonikDb['sql'],
  migration: MigrationFile,
  signal: AbortSignal,
  context: ApplyContext,
): MigrationContext {
  return {
    connection,
    sql,
    signal,
    version: migration.version,
    name: migration.name,
    progress: (message, counts) => {
      void context.emit({
        type: 'migration:progress',
        version: migration.version,
        message: String(message),
        done: counts?.done ?? null,
        total: counts?.total ?? null,
      });
    },
  };
}

/**
 * Run a module migration's `up` or `down` on a guarded connection. The module's own code may
 * ignore its signal (awaiting a timer, a loop that never checks it): the migration ends when the
 * stop comes, not when the module returns, and its connection refuses everything from then on.
 * A transactional module may not end or reshape offloop's transaction either (see
 * `guardConnection`); what it tried is kept in `position.refused`.
 */
export async function runModule(
  db: SlonikDb,
  item: Extract<Prepared, { readonly run: unknown }>,
  position: Position,
  signal: AbortSignal,
  context: ApplyContext,
): Promise<void> {
  const { migration, options } = item;
  // Closed once the module settles: a query it leaves running (a timer, a promise it did
  // not await) must not land in the next migration's session, or after the commit.
  const settled = new AbortController();
  const guarded = guardConnection(
    db.connection,
    AbortSignal.any([signal, settled.signal]),
    options.transaction ? migration : null,
  );
  try {
    await untilStopped(
      Promise.resolve(item.run(moduleContext(guarded, db.sql, migration, signal, context))),
      signal,
    );
  } finally {
    settled.abort(new Error(`${migration.file} had already returned`));
    position.refused = guarded.refusals[0];
  }
  if (position.refused !== undefined) throw position.refused;
}
