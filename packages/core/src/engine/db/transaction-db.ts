/**
 * Transactions on the work connection's client: `begin` ... `commit`, and savepoints for a
 * transaction inside one, each level a {@link Db} whose `transaction` goes one level deeper.
 */
import type pg from 'pg';
import { Db, type Row } from './db.ts';
import type { Sql } from './sql.ts';

/** A connected client and its backend's pid. */
export type Connected = { readonly client: pg.Client; readonly pid: number };

/** `fn` in a transaction (or, at `depth` > 0, a savepoint) on `live`'s client. */
export async function inTransaction<T>(
  live: Connected,
  rows: <R extends Row>(query: Sql) => Promise<R[]>,
  fn: (transaction: Db) => Promise<T>,
  depth: number,
): Promise<T> {
  const savepoint = `offloop_${depth}`;
  await live.client.query(depth === 0 ? 'begin' : `savepoint ${savepoint}`);
  let result: T;
  try {
    result = await fn(new TransactionDb(live, rows, depth + 1));
  } catch (error) {
    await live.client
      .query(depth === 0 ? 'rollback' : `rollback to savepoint ${savepoint}`)
      .catch(() => undefined);
    throw error;
  }
  await live.client.query(depth === 0 ? 'commit' : `release savepoint ${savepoint}`);
  return result;
}

/** The work connection inside a transaction. */
class TransactionDb extends Db {
  readonly #live: Connected;
  readonly #rows: <R extends Row>(query: Sql) => Promise<R[]>;
  readonly #depth: number;

  constructor(live: Connected, rows: <R extends Row>(query: Sql) => Promise<R[]>, depth: number) {
    super();
    this.#live = live;
    this.#rows = rows;
    this.#depth = depth;
  }

  override rows<T extends Row>(query: Sql): Promise<T[]> {
    return this.#rows<T>(query);
  }

  override pid(): Promise<number> {
    return Promise.resolve(this.#live.pid);
  }

  override transaction<T>(fn: (transaction: Db) => Promise<T>): Promise<T> {
    return inTransaction(this.#live, this.#rows, fn, this.#depth);
  }
}
