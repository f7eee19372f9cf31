/**
 * A fresh PostgreSQL database per test, on the server named by `TEST_DATABASE_URL` (which
 * `./dev test` provides: an embedded server, or the one you point it at).
 */
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { createPool, sql, type DatabasePool } from 'slonik';

/** Prefix of every database {@link createTestDatabase} creates; leftovers are easy to find. */
export const TEST_DATABASE_PREFIX = 'offloop_t_';

let adminPool: Promise<DatabasePool> | undefined;

// ava runs each test file in its own worker thread and waits for the thread to exit: an open
// pool would keep it alive. This module is imported while the file declares its tests, which is
// the only time hooks may be registered; it ends the pool once every test and teardown is done.
test.after.always('end the admin connection pool', async () => {
  const pool = adminPool;
  adminPool = undefined;
  if (pool !== undefined) await (await pool).end();
});

/** The admin connection string, from `TEST_DATABASE_URL`. */
export function adminDatabaseUrl(): string {
  const url = process.env['TEST_DATABASE_URL'];
  if (url === undefined || url === '') {
    throw new Error(
      'TEST_DATABASE_URL is not set: run tests through `./dev test`, which starts PostgreSQL (or uses the one TEST_DATABASE_URL names)',
    );
  }
  return url;
}

/** One pool per test worker, on the admin database; it only creates and drops databases. */
function admin(): Promise<DatabasePool> {
  adminPool ??= createPool(adminDatabaseUrl(), {
    maximumPoolSize: 2,
    connectionTimeout: 30_000,
    statementTimeout: 'DISABLE_TIMEOUT',
    idleInTransactionSessionTimeout: 'DISABLE_TIMEOUT',
    transactionRetryLimit: 0,
    queryRetryLimit: 0,
  });
  const pool = adminPool;
  pool.catch(() => {
    if (adminPool === pool) adminPool = undefined;
  });
  return pool;
}

/**
 * Create an empty database for this test and return its connection string. It is dropped
 * (`WITH (FORCE)`, so connections left open do not block it) when the test ends.
 */
export async function createTestDatabase(t: ExecutionContext): Promise<string> {
  const name = `${TEST_DATABASE_PREFIX}${randomBytes(8).toString('hex')}`;
  const pool = await admin();
  await pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`);
  t.teardown(async () => {
    await pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`);
  });
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/** The database name in a connection string, as {@link createTestDatabase} returns it. */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/**
 * Run `fn` with a small pool on `url` (a test database), ended afterwards. The generous
 * connection timeout is for loaded CI machines, where a connection can take seconds.
 */
export async function withPool<T>(url: string, fn: (pool: DatabasePool) => Promise<T>): Promise<T> {
  const pool = await createPool(url, { maximumPoolSize: 2, connectionTimeout: 30_000 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}
