/**
 * Running a JavaScript/TypeScript migration: the context it gets, and its connection, guarded so
 * that it cannot end offloop's transaction or touch the database once it is over.
 */
import { sql, type CommonQueryMethods } from 'slonik';
import type { MigrationContext } from '../../model/context.ts';
import type { MigrationFile } from '../../model/migration.ts';
import { moduleTransactionControl } from '../../plan/transaction-rules.ts';
import { asError } from '../../util/as-error.ts';
import { parseNodes } from '../prepare/split.ts';
import type { Prepared } from '../../model/prepared.ts';
import { untilStopped } from './cancel.ts';
import type { ApplyContext, Position } from './context.ts';

/** Statements worth parsing to see whether they are transaction control (see `guardConnection`). */
const MAYBE_TRANSACTION_CONTROL =
  /\b(?:begin|start|commit|end|rollback|abort|savepoint|release|prepare|transaction|characteristics|discard)\b/i;

/** A transactional module sent a statement that would end or reshape offloop's transaction. */
export class TransactionControlRefused extends Error {
  readonly command: string;

  constructor(command: string, file: string) {
    super(
      `${command} through ctx.connection in ${file}: the migration runs in offloop's transaction, which it may not end or change`,
    );
    this.command = command;
  }
}

/**
 * The connection a module migration gets. Once `signal` fires every call is refused, so a module
 * that ignored its stop cannot touch the database afterwards. For a transactional migration
 * (`inTransactionOf` set), statements that would end or reshape offloop's transaction are refused
 * before they reach the server; nested `transaction()` calls get the same guard.
 */
function guardConnection(
  target: CommonQueryMethods,
  signal: AbortSignal,
  inTransactionOf: MigrationFile | null,
  refusals: TransactionControlRefused[] = [],
): CommonQueryMethods & { readonly refusals: readonly TransactionControlRefused[] } {
  const check = (query: unknown) => {
    if (signal.aborted)
      throw new Error(
        'The migration is over (it returned, or was cancelled, timed out or lost the lock): its connection takes no more queries.',
        { cause: signal.reason },
      );
    if (inTransactionOf === null) return;
    const text = (query as { sql?: unknown } | null)?.sql;
    if (typeof text !== 'string' || !MAYBE_TRANSACTION_CONTROL.test(text)) return;
    for (const { kind, node } of parseNodes(text) ?? []) {
      const command = moduleTransactionControl(kind, node);
      if (command === null) continue;
      const refused = new TransactionControlRefused(command, inTransactionOf.file);
      // Kept: a module that catches the error must still fail.
      refusals.push(refused);
      throw refused;
    }
  };
  const wrapped: Record<string, unknown> = { refusals };
  for (const name of [
    'any',
    'anyFirst',
    'exists',
    'many',
    'manyFirst',
    'maybeOne',
    'maybeOneFirst',
    'one',
    'oneFirst',
    'query',
    'record',
    'stream',
  ] as const) {
    const method = target[name] as (...args: unknown[]) => unknown;
    // A refusal is a rejected promise, as every query method's failure is: thrown synchronously
    // it would escape a `.catch()` and crash the thread.
    wrapped[name] = (...args: unknown[]) => {
      try {
        check(args[0]);
      } catch (error) {
        return Promise.reject(asError(error));
      }
      return method.apply(target, args);
    };
  }
  wrapped.transaction = <T>(
    handler: (connection: CommonQueryMethods) => Promise<T>,
    retries?: number,
  ) => {
    try {
      check(null);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    return target.transaction(
      (inner) => handler(guardConnection(inner, signal, inTransactionOf, refusals)),
      retries ?? 0,
    );
  };
  return wrapped as unknown as CommonQueryMethods & {
    readonly refusals: readonly TransactionControlRefused[];
  };
}

function moduleContext(
  target: CommonQueryMethods,
  migration: MigrationFile,
  signal: AbortSignal,
  context: ApplyContext,
): MigrationContext {
  return {
    connection: target,
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
  target: CommonQueryMethods,
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
    target,
    AbortSignal.any([signal, settled.signal]),
    options.transaction ? migration : null,
  );
  try {
    await untilStopped(
      Promise.resolve(item.run(moduleContext(guarded, migration, signal, context))),
      signal,
    );
  } finally {
    settled.abort(new Error(`${migration.file} had already returned`));
    position.refused = guarded.refusals[0];
  }
  if (position.refused !== undefined) throw position.refused;
}
