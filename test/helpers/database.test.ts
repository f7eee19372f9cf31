import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createPool, sql, type DatabasePool } from 'slonik';
import {
  TEST_DATABASE_PREFIX,
  adminDatabaseUrl,
  createTestDatabase,
  databaseName,
  withPool,
} from './database.ts';
import { migrationsDir } from './fixtures.ts';

const created: string[] = [];

for (const title of ['first test', 'second test']) {
  test(`createTestDatabase gives the ${title} a database of its own`, async (t) => {
    const url = await createTestDatabase(t);
    const name = databaseName(url);
    created.push(name);
    t.true(name.startsWith(TEST_DATABASE_PREFIX));
    await withPool(url, async (pool) => {
      t.is(await pool.oneFirst(sql.unsafe`SELECT current_database()`), name);
      // Empty: no tables from another test.
      t.is(
        await pool.oneFirst(
          sql.unsafe`SELECT count(*)::int FROM pg_tables WHERE schemaname = 'public'`,
        ),
        0,
      );
      await pool.query(sql.unsafe`CREATE TABLE marker (id int)`);
    });
  });
}

const leftOpen: DatabasePool[] = [];

test('createTestDatabase drops the database even with a connection left open', async (t) => {
  const url = await createTestDatabase(t);
  created.push(databaseName(url));
  // Still open at teardown (ended only after all tests): DROP DATABASE ... WITH (FORCE) must cope.
  const pool = await createPool(url, { maximumPoolSize: 1, idleTimeout: 'DISABLE_TIMEOUT' });
  leftOpen.push(pool);
  t.is(await pool.oneFirst(sql.unsafe`SELECT 1`), 1);
});

const fixtureDirs: string[] = [];

test('migrationsDir writes the files into a fresh directory', async (t) => {
  const dir = await migrationsDir(t, {
    '20250101000000_a.sql': 'select 1;',
    'nested/b.sql': 'select 2;',
  });
  fixtureDirs.push(dir);
  t.is(await readFile(path.join(dir, '20250101000000_a.sql'), 'utf8'), 'select 1;');
  t.is(await readFile(path.join(dir, 'nested', 'b.sql'), 'utf8'), 'select 2;');
  await t.throwsAsync(migrationsDir(t, { '../escape.sql': '' }), {
    message: /not a relative path inside/,
  });
});

test.after('every test database is gone after its teardown', async (t) => {
  t.is(new Set(created).size, 3, 'three tests, three different databases');
  const left = await withPool(adminDatabaseUrl(), (pool) =>
    pool.anyFirst(
      sql.unsafe`SELECT datname FROM pg_database WHERE datname = ANY(${sql.array(created, 'text')})`,
    ),
  );
  t.deepEqual(left, []);
  for (const dir of fixtureDirs) await t.throwsAsync(access(dir), { code: 'ENOENT' });
});

test.after.always('end the pools left open', async () => {
  await Promise.all(leftOpen.map((pool) => pool.end()));
});
