/**
 * The connection a JavaScript/TypeScript migration gets: it refuses every query once the
 * migration is over, and, in a transactional migration, the statements that would end or reshape
 * offloop's transaction.
 */
import type { CommonQueryMethods } from 'slonik';
import type { MigrationFile } from '../../model/migration.ts';
import { moduleTransactionControl } from '../../plan/transaction-rules.ts';
import { asError } from '../../util/as-error.ts';
import { parseNodes } from '../parse/parser.ts';

/** Statements worth parsing to see whether they are transaction control (see `guardConnection`). */
const TRANSACTION_CONTROL_WORDS = [
  'begin',
  'start',
  'commit',
  'end',
  'rollback',
  'abort',
  'savepoint',
  'release',
  'prepare',
  'transaction',
  'characteristics',
  'discard',
];
const MAYBE_TRANSACTION_CONTROL = new RegExp(
  String.raw`\b(?:${TRANSACTION_CONTROL_WORDS.join('|')})\b`,
  'i',
);

/** A transactional module sent a statement that would end or reshape offloop's transaction. */
export class TransactionControlRefused extends Error {
  readonly command: string;

  constructor(command: string, file: string) {
    super(
      `${command} through ctx.connection in ${file}: the migration runs in ` +
        "offloop's transaction, which it may not end or change",
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
export function guardConnection(
  connection: CommonQueryMethods,
  signal: AbortSignal,
  inTransactionOf: MigrationFile | null,
  refusals: TransactionControlRefused[] = [],
): CommonQueryMethods & { readonly refusals: readonly TransactionControlRefused[] } {
  const check = (query: unknown) => {
    if (signal.aborted)
      throw new Error(
        'The migration is over (it returned, or was cancelled, timed out or ' +
          'lost the lock): its connection takes no more queries.',
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
    const method = connection[name] as (...args: unknown[]) => unknown;
    // A refusal is a rejected promise, as every query method's failure is: thrown synchronously
    // it would escape a `.catch()` and crash the thread.
    wrapped[name] = (...args: unknown[]) => {
      try {
        check(args[0]);
      } catch (error) {
        return Promise.reject(asError(error));
      }
      return method.apply(connection, args);
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
    return connection.transaction(
      (inner) => handler(guardConnection(inner, signal, inTransactionOf, refusals)),
      retries ?? 0,
    );
  };
  return wrapped as unknown as CommonQueryMethods & {
    readonly refusals: readonly TransactionControlRefused[];
  };
}
