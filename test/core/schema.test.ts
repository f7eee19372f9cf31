/**
 * `schema` is where migrations run (first on their search_path, created when missing) and, by
 * default, where the ledger is; `migrationsSchema` moves only the ledger, and the lock keys
 * follow the ledger.
 */
import test from '../helpers/limited-test.ts';
import { LockTimeoutError, type ProgressEvent } from '@offloop/core';
import { lockKeyFor } from '@offloop/core/engine';
import { createMigrator } from '@offloop/worker';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

/** A migration that records the search_path it ran with in a table it creates unqualified. */
const SEEN =
  '-- migrate:up\ncreate table t (search_path text);\n' +
  "insert into t select current_setting('search_path');\n-- migrate:down\ndrop table t;\n";

/** Tables per schema, offloop's own included, outside the system schemas. */
const tablesBySchema = (url: string) =>
  withPool(url, (pool) =>
    pool.anyFirst(sql.type(z.object({ name: z.string() }))`
      select n.nspname || '.' || c.relname as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')
      order by 1`),
  );

const searchPathIn = (url: string, schema: string) =>
  withPool(url, (pool) =>
    pool.oneFirst(
      sql.type(z.object({ search_path: z.string() }))`
        select search_path from ${sql.identifier([schema, 't'])}`,
    ),
  );

test("schema: 'tenant_a' creates the schema, runs the migration in it and keeps the ledger there", async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_t.sql': SEEN });
  await using migrator = createMigrator({ url, dir, schema: 'tenant_a' });
  t.is((await migrator.up()).applied.length, 1);
  t.deepEqual(await tablesBySchema(url), [
    'tenant_a.offloop_migrations',
    'tenant_a.offloop_migrations_log',
    'tenant_a.t',
  ]);
  t.is(await searchPathIn(url, 'tenant_a'), '"tenant_a", public');
  const status = await migrator.status();
  t.true(status.initialized);
  t.is(status.pending.length, 0);
  t.is((await migrator.down()).reverted.length, 1);
  t.deepEqual(await tablesBySchema(url), [
    'tenant_a.offloop_migrations',
    'tenant_a.offloop_migrations_log',
  ]);
});

test('the default schema runs with search_path public alone', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_t.sql': SEEN });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  t.is(await searchPathIn(url, 'public'), 'public');
});

test('migrationsSchema puts the ledger apart; objects land in schema, and both schemas are created', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_t.sql': SEEN });
  await using migrator = createMigrator({
    url,
    dir,
    schema: 'tenant_b',
    migrationsSchema: 'ops',
  });
  const events: ProgressEvent[] = [];
  await migrator.up({ onProgress: (event) => events.push(event) });
  t.deepEqual(await tablesBySchema(url), [
    'ops.offloop_migrations',
    'ops.offloop_migrations_log',
    'tenant_b.t',
  ]);
  // The lock key follows the ledger, not the schema migrations run in.
  const acquired = events.find((event) => event.type === 'lock:acquired');
  t.is(acquired?.lockKey, lockKeyFor({ schema: 'ops', table: 'offloop_migrations' }));

  // status reads the ledger from migrationsSchema: applied there, nothing in tenant_b's.
  const status = await migrator.status();
  t.true(status.initialized);
  t.deepEqual(
    status.applied.map((migration) => migration.version),
    ['20260101000000'],
  );
  await using elsewhere = createMigrator({ url, dir, schema: 'tenant_b' });
  const other = await elsewhere.status();
  t.false(other.initialized);
  t.is(other.pending.length, 1);
  t.is((await migrator.history()).log.length, 1);
});

test("an old schema: 'x' user who sets migrationsSchema: 'x' keeps the ledger, the lock key, and objects in public", async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_t.sql': SEEN });
  await using migrator = createMigrator({ url, dir, migrationsSchema: 'x' });
  const events: ProgressEvent[] = [];
  await migrator.up({ onProgress: (event) => events.push(event) });
  t.deepEqual(await tablesBySchema(url), [
    'public.t',
    'x.offloop_migrations',
    'x.offloop_migrations_log',
  ]);
  const acquired = events.find((event) => event.type === 'lock:acquired');
  t.is(acquired?.lockKey, lockKeyFor({ schema: 'x', table: 'offloop_migrations' }));
});

test('two tenant schemas in one database migrate independently, with different lock keys, at once', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_t.sql': SEEN });
  const keyA = lockKeyFor({ schema: 'tenant_a', table: 'offloop_migrations' });
  const keyB = lockKeyFor({ schema: 'tenant_b', table: 'offloop_migrations' });
  t.not(keyA, keyB);
  await using a = createMigrator({ url, dir, schema: 'tenant_a', lockTimeout: 300 });
  await using b = createMigrator({ url, dir, schema: 'tenant_b', lockTimeout: 300 });
  await withPool(url, (pool) =>
    pool.connect(async (connection) => {
      // tenant_a's run lock held elsewhere: tenant_a waits and gives up, tenant_b runs.
      await connection.query(sql.unsafe`select pg_advisory_lock(${keyA}::bigint)`);
      await t.throwsAsync(a.up(), { instanceOf: LockTimeoutError, code: 'LOCK_TIMEOUT' });
      t.is((await b.up()).applied.length, 1);
      await connection.query(sql.unsafe`select pg_advisory_unlock(${keyA}::bigint)`);
    }),
  );
  t.is((await a.up()).applied.length, 1);
  await Promise.all([a.down(), b.down()]);
  const both = await Promise.all([a.up(), b.up()]);
  t.deepEqual(
    both.map((result) => result.applied.length),
    [1, 1],
  );
  t.deepEqual(await tablesBySchema(url), [
    'tenant_a.offloop_migrations',
    'tenant_a.offloop_migrations_log',
    'tenant_a.t',
    'tenant_b.offloop_migrations',
    'tenant_b.offloop_migrations_log',
    'tenant_b.t',
  ]);
});

test("a TypeScript migration's connection has the search_path too", async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_t.ts': [
      "import type { MigrationContext } from '@offloop/core';",
      'export async function up({ connection, sql }: MigrationContext): Promise<void> {',
      '  await connection.query(sql.unsafe`create table t (search_path text)`);',
      "  await connection.query(sql.unsafe`insert into t select current_setting('search_path')`);",
      '}',
    ].join('\n'),
    '20260102000000_u.ts': [
      "import type { MigrationContext } from '@offloop/core';",
      'export const transaction = false;',
      'export async function up({ connection, sql }: MigrationContext): Promise<void> {',
      "  await connection.query(sql.unsafe`insert into t select 'after:' || current_setting('search_path')`);",
      '}',
    ].join('\n'),
  });
  await using migrator = createMigrator({ url, dir, schema: 'tenant_a' });
  t.is((await migrator.up()).applied.length, 2);
  const seen = await withPool(url, (pool) =>
    pool.anyFirst(
      sql.type(z.object({ search_path: z.string() }))`
        select search_path from tenant_a.t order by 1`,
    ),
  );
  t.deepEqual(seen, ['"tenant_a", public', 'after:"tenant_a", public']);
});

test('with lockUrl, each migration sets its own search_path: transactional and not', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_t.sql': SEEN,
    '20260102000000_index.sql':
      '-- migrate:up transaction:false\ncreate index concurrently t_i on t (search_path);\n' +
      "insert into t select 'after:' || current_setting('search_path');\n",
  });
  await using migrator = createMigrator({ url, lockUrl: url, dir, schema: 'tenant_c' });
  t.is((await migrator.up()).applied.length, 2);
  const seen = await withPool(url, (pool) =>
    pool.anyFirst(
      sql.type(z.object({ search_path: z.string() }))`
        select search_path from tenant_c.t order by 1`,
    ),
  );
  // `set` normalises the list it is given (`set_config` keeps the text as sent).
  t.deepEqual(seen, ['after:tenant_c, public', 'tenant_c, public']);
  const index = await withPool(url, (pool) =>
    pool.oneFirst(
      sql.type(z.object({ schemaname: z.string() }))`
        select schemaname from pg_indexes where indexname = 't_i'`,
    ),
  );
  t.is(index, 'tenant_c');
  t.deepEqual(await tablesBySchema(url), [
    'tenant_c.offloop_migrations',
    'tenant_c.offloop_migrations_log',
    'tenant_c.t',
  ]);
});
