import test from '../helpers/limited-test.ts';
import {
  ChecksumMismatchError,
  ConfigError,
  DatabaseUnavailableError,
  LockTimeoutError,
  MigrationFailedError,
  MigrationFileMissingError,
  MigrationModuleError,
  OutOfOrderError,
  SqlSyntaxError,
  type ProgressEvent,
} from '@offloop/core';
import { lockKeyFor } from '@offloop/core/engine';
import { createMigrator } from '@offloop/worker';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const USERS =
  '-- migrate:up\ncreate table users (id int primary key, email text);\n-- migrate:down\ndrop table users;\n';
const POSTS =
  '-- migrate:up\ncreate table posts (id int primary key, user_id int references users (id));\n';

const tables = (url: string) =>
  withPool(url, (pool) =>
    pool.anyFirst(sql.type(z.object({ relname: z.string() }))`
  select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and c.relkind = 'r' order by relname`),
  );

const versions = (url: string) =>
  withPool(url, (pool) =>
    pool.anyFirst(sql.type(z.object({ version: z.string() }))`
  select version from public.offloop_migrations order by version`),
  );

test('applies pending migrations, then a re-run has nothing to do', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_posts.sql': POSTS,
  });
  await using migrator = createMigrator({ url, dir });

  const first = await migrator.up();
  t.deepEqual(
    first.applied.map((m) => m.version),
    ['20260101000000', '20260102000000'],
  );
  t.is(first.current, '20260102000000');
  t.deepEqual(await tables(url), [
    'offloop_migrations',
    'offloop_migrations_log',
    'posts',
    'users',
  ]);

  const second = await migrator.up();
  t.deepEqual(second.applied, []);
  t.is(second.current, '20260102000000');

  const status = await migrator.status();
  t.is(status.pending.length, 0);
  t.deepEqual(status.problems, []);
  t.regex(status.applied[0]?.checksum ?? '', /^[0-9a-f]{64}$/);
  t.truthy(status.applied[0]?.appliedBy);
});

test('a failure at statement 3 of 5 leaves nothing of that migration and keeps earlier ones', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_broken.sql': [
      '-- migrate:up',
      'create table a1 (id int);',
      'create table a2 (id int);',
      'insert into nope values (1);',
      'create table a4 (id int);',
      'create table a5 (id int);',
    ].join('\n'),
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: MigrationFailedError,
    code: 'MIGRATION_FAILED',
  });
  t.like(error.details, {
    version: '20260102000000',
    file: '20260102000000_broken.sql',
    statement: 3,
    statementCount: 5,
    sqlstate: '42P01',
    line: 4,
    column: 13,
  });
  t.deepEqual(
    error.details.applied.map((m) => m.version),
    ['20260101000000'],
  );
  t.deepEqual(await tables(url), ['offloop_migrations', 'offloop_migrations_log', 'users']);
  t.deepEqual(await versions(url), ['20260101000000']);
});

test('a syntax error in the last pending file applies nothing', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_posts.sql': POSTS,
    '20260103000000_bad.sql':
      '-- migrate:up\ncreate table ok (id int);\n\ncreate tabel broken (id int);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: SqlSyntaxError,
    code: 'SQL_SYNTAX_ERROR',
  });
  t.like(error.details, { file: '20260103000000_bad.sql', line: 4, column: 8 });
  // A refused run leaves no trace: not even offloop's own tables.
  t.deepEqual(await tables(url), []);
});

test('an applied file that changed is refused with CHECKSUM_MISMATCH', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  await writeFile(
    join(dir, '20260101000000_users.sql'),
    USERS.replace('email text', 'email text not null'),
  );
  await writeFile(join(dir, '20260102000000_posts.sql'), POSTS);
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: ChecksumMismatchError,
    code: 'CHECKSUM_MISMATCH',
  });
  t.is(error.details.migrations[0]?.file, '20260101000000_users.sql');
  t.deepEqual(await versions(url), ['20260101000000']);
  t.is((await migrator.status()).problems[0]?.kind, 'changed');
});

test('an applied migration whose file is gone is refused with MIGRATION_FILE_MISSING', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  await rm(join(dir, '20260101000000_users.sql'));
  await t.throwsAsync(migrator.up(), {
    instanceOf: MigrationFileMissingError,
    code: 'MIGRATION_FILE_MISSING',
  });
});

test('a pending migration older than the newest applied one is refused with MIGRATION_OUT_OF_ORDER', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260102000000_users.sql': USERS });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  await writeFile(
    join(dir, '20260101000000_early.sql'),
    '-- migrate:up\ncreate table early (id int);\n',
  );
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: OutOfOrderError,
    code: 'MIGRATION_OUT_OF_ORDER',
  });
  t.deepEqual(
    error.details.migrations.map((m) => m.version),
    ['20260101000000'],
  );
  t.false((await tables(url)).includes('early'));
});

test('ten concurrent up() calls apply each migration exactly once', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_counter.sql': '-- migrate:up\ncreate table runs (migration text not null);\n',
    '20260102000000_sql_side_effect.sql':
      "-- migrate:up\ninsert into runs values ('sql');\nselect pg_sleep(0.2);\n",
    '20260103000000_ts_side_effect.ts':
      "export async function up({ connection, sql }) { await connection.query(sql.unsafe`insert into runs values ('ts')`); }\n",
  });
  const migrators = Array.from({ length: 10 }, () => createMigrator({ url, dir }));
  try {
    const results = await Promise.all(migrators.map((migrator) => migrator.up()));
    t.is(
      results.reduce((sum, result) => sum + result.applied.length, 0),
      3,
    );
    t.true(results.every((result) => result.current === '20260103000000'));
    const runs = await withPool(url, (pool) =>
      pool.anyFirst(
        sql.type(
          z.object({ migration: z.string() }),
        )`select migration from runs order by migration`,
      ),
    );
    t.deepEqual(runs, ['sql', 'ts']);
    t.deepEqual(await versions(url), ['20260101000000', '20260102000000', '20260103000000']);
  } finally {
    await Promise.all(migrators.map((migrator) => migrator.close()));
  }
});

test('a runner that cannot get the lock in time fails with LOCK_TIMEOUT naming the holder', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  const key = lockKeyFor({ schema: 'public', table: 'offloop_migrations' });
  await withPool(url, (pool) =>
    pool.connect(async (connection) => {
      const holderPid = await connection.oneFirst(
        sql.type(z.object({ pid: z.number() }))`select pg_backend_pid() as pid`,
      );
      await connection.query(sql.unsafe`select pg_advisory_lock(${key}::bigint)`);
      await using migrator = createMigrator({ url, dir, lockTimeout: 300 });
      const events: ProgressEvent[] = [];
      const error = await t.throwsAsync(
        migrator.up({ onProgress: (event) => events.push(event) }),
        { instanceOf: LockTimeoutError, code: 'LOCK_TIMEOUT' },
      );
      t.is(error.details.holderPid, holderPid);
      t.true(error.details.waitedMs >= 300);
      t.true(events.some((event) => event.type === 'lock:waiting'));
      await connection.query(sql.unsafe`select pg_advisory_unlock(${key}::bigint)`);
    }),
  );
  t.deepEqual(await tables(url), []);
});

test('a lock on another version table does not block', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  const otherKey = lockKeyFor({ schema: 'public', table: 'other_migrations' });
  await withPool(url, (pool) =>
    pool.connect(async (connection) => {
      await connection.query(sql.unsafe`select pg_advisory_lock(${otherKey}::bigint)`);
      await using migrator = createMigrator({ url, dir, lockTimeout: 300 });
      t.is((await migrator.up()).applied.length, 1);
    }),
  );
});

test('a TypeScript migration runs in the worker thread, inside its transaction, with progress', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_seed.ts': [
      "import { isMainThread, threadId } from 'node:worker_threads';",
      "import type { MigrationContext } from '@offloop/core';",
      'export async function up({ connection, sql, progress, version }: MigrationContext): Promise<void> {',
      '  (globalThis as Record<string, unknown>).offloopSeedLoaded = true;',
      '  await connection.query(sql.unsafe`create table seen (main boolean, thread int, autocommit boolean, version text)`);',
      '  await connection.query(sql.unsafe`insert into seen select ${isMainThread}, ${threadId}, now() = statement_timestamp(), ${version}`);',
      "  progress('seeded', { done: 1, total: 1 });",
      '}',
    ].join('\n'),
  });
  await using migrator = createMigrator({ url, dir });
  const run = migrator.up();
  const events: ProgressEvent[] = [];
  for await (const event of run) events.push(event);
  t.is((await run).applied.length, 2);
  t.is(
    (globalThis as Record<string, unknown>).offloopSeedLoaded,
    undefined,
    'the host never imported the migration',
  );
  const seen = await withPool(url, (pool) =>
    pool.one(
      sql.type(
        z.object({
          main: z.boolean(),
          thread: z.number(),
          autocommit: z.boolean(),
          version: z.string(),
        }),
      )`select * from seen`,
    ),
  );
  t.false(seen.main);
  t.true(seen.thread > 0);
  // now() is the transaction's start; a later statement in the same transaction sees a later clock.
  t.false(seen.autocommit);
  t.is(seen.version, '20260102000000');
  t.like(
    events.find((event) => event.type === 'migration:progress'),
    { message: 'seeded', done: 1, total: 1 },
  );
  t.deepEqual(
    events.map((event) => event.type),
    [
      'run:started',
      'lock:acquired',
      'plan:ready',
      'migration:loading',
      'migration:started',
      'migration:backend',
      'migration:finished',
      'migration:started',
      'migration:backend',
      'migration:progress',
      'migration:finished',
      'run:finished',
    ],
  );
});

test('a TypeScript migration that throws is rolled back and reported with its cause', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_half.ts': [
      "import type { MigrationContext } from '@offloop/core';",
      'export async function up({ connection, sql }: MigrationContext) {',
      '  await connection.query(sql.unsafe`create table half (id int)`);',
      "  throw new Error('data check failed');",
      '}',
    ].join('\n'),
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: MigrationFailedError,
    code: 'MIGRATION_FAILED',
  });
  t.is((error.cause as Error).message, 'data check failed');
  t.like(error.details, { file: '20260101000000_half.ts', line: 4, column: 9, sqlstate: null });
  t.deepEqual(await tables(url), ['offloop_migrations', 'offloop_migrations_log']);
});

test('.mts and .cts migrations apply under a "type": "commonjs" package.json, where a .ts one would not load', async (t) => {
  const url = await createTestDatabase(t);
  const root = await migrationsDir(t, {
    'package.json': '{ "name": "app", "type": "commonjs" }',
    'migrations/20260101000000_users.mts': [
      "import type { MigrationContext } from 'offloop';",
      'export async function up({ connection, sql }: MigrationContext): Promise<void> {',
      '  await connection.query(sql.unsafe`create table users (id int)`);',
      '}',
    ].join('\n'),
    'migrations/20260102000000_posts.cts': [
      "import type { MigrationContext } from 'offloop';",
      'exports.up = async ({ connection, sql }: MigrationContext): Promise<void> => {',
      '  await connection.query(sql.unsafe`create table posts (id int)`);',
      '};',
      'exports.transaction = false;',
    ].join('\n'),
  });
  await using migrator = createMigrator({ url, dir: join(root, 'migrations') });
  t.is((await migrator.up()).applied.length, 2);
  t.deepEqual(await tables(url), [
    'offloop_migrations',
    'offloop_migrations_log',
    'posts',
    'users',
  ]);

  await writeFile(
    join(root, 'migrations', '20260103000000_orders.ts'),
    'export async function up(): Promise<void> {}\n',
  );
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: MigrationModuleError,
    code: 'MIGRATION_MODULE_INVALID',
  });
  t.regex(error?.message ?? '', /has "type": "commonjs": rename it to 20260103000000_orders\.mts/);
});

test('a module without an up export is refused before anything runs', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_empty.ts': 'export const nothing = 1;\n',
  });
  await using migrator = createMigrator({ url, dir });
  await t.throwsAsync(migrator.up(), {
    instanceOf: MigrationModuleError,
    code: 'MIGRATION_MODULE_INVALID',
  });
  t.deepEqual(await tables(url), []);
});

test('up({ to }) stops at the target', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_posts.sql': POSTS,
  });
  await using migrator = createMigrator({ url, dir });
  t.is((await migrator.up({ to: '20260101000000' })).current, '20260101000000');
  const status = await migrator.status();
  t.deepEqual(
    status.pending.map((m) => m.version),
    ['20260102000000'],
  );
});

test('status on a fresh database is read-only', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url, dir });
  const status = await migrator.status();
  t.false(status.initialized);
  t.is(status.pending.length, 1);
  t.deepEqual(await tables(url), []);
});

test('a custom schema and table are created and used, quoted; the migration runs in the schema', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url, dir, schema: 'Meta', table: 'History' });
  await migrator.up();
  const count = await withPool(url, (pool) =>
    pool.oneFirst(
      sql.type(z.object({ n: z.number() }))`select count(*)::int as n from "Meta"."History"`,
    ),
  );
  t.is(count, 1);
  t.deepEqual(await tables(url), []);
  const users = await withPool(url, (pool) =>
    pool.oneFirst(
      sql.type(z.object({ n: z.number() }))`select count(*)::int as n from "Meta".users`,
    ),
  );
  t.is(users, 0);
});

test('an unreachable database fails with DATABASE_UNAVAILABLE and no password in the message', async (t) => {
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({
    url: 'postgres://postgres:hunter2@127.0.0.1:1/postgres',
    dir,
    connectTimeout: 2000,
  });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: DatabaseUnavailableError,
    code: 'DATABASE_UNAVAILABLE',
  });
  t.false(error.message.includes('hunter2'));
});

test('a script that migrates and closes exits by itself; its main thread never loads slonik or a migration', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_seed.ts': 'export async function up() {}\n',
  });
  const script = new URL('../fixtures/migrate-and-close.ts', import.meta.url).pathname;
  // If anything kept the loop alive, the child would hang until the timeout kills it.
  const { stdout } = await promisify(execFile)(process.execPath, [script, url, dir], {
    timeout: 90_000,
  });
  t.deepEqual(JSON.parse(stdout), { applied: 2, forbidden: [] });
});

test('up, down and redo with nothing to do create nothing on an untouched database', async (t) => {
  const url = await createTestDatabase(t);
  const empty = await migrationsDir(t, {});
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using nothing = createMigrator({ url, dir: empty });
  t.deepEqual((await nothing.up()).applied, []);
  await using migrator = createMigrator({ url, dir });
  t.deepEqual((await migrator.down()).reverted, []);
  t.deepEqual((await migrator.redo()).reverted, []);
  t.deepEqual(await tables(url), []);
});

test('a lockUrl that reaches another database than url is refused before anything runs', async (t) => {
  const url = await createTestDatabase(t);
  const other = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url, dir, lockUrl: other });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: ConfigError,
    code: 'CONFIG_INVALID',
  });
  t.is(error.details.issues[0]?.path, 'lockUrl');
  t.deepEqual(await tables(url), []);
  await using same = createMigrator({ url, dir, lockUrl: url });
  t.is((await same.up()).applied.length, 1);
});

test("what a migration logs with console arrives as its migration:progress events, not on the host's stdout", async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_noisy.ts':
      "export async function up() { console.log('step one'); console.warn('careful\\nnow'); process.stdout.write(''); }\n",
  });
  await using migrator = createMigrator({ url, dir });
  const events: ProgressEvent[] = [];
  await migrator.up({ onProgress: (event) => events.push(event) });
  const lines = events.flatMap((event) =>
    event.type === 'migration:progress' ? [`${event.version} ${event.message}`] : [],
  );
  t.deepEqual(lines, ['20260101000000 step one', '20260101000000 careful', '20260101000000 now']);
});

test('a ledger made by an older offloop gets the log columns it lacks, and the next run is logged in full', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260101000001_posts.sql': POSTS,
  });
  await using migrator = createMigrator({ url, dir, workerIdleTimeout: 0 });
  await migrator.up({ to: '20260101000000' });
  // The log table as an offloop before `attempts` made it.
  await withPool(url, (pool) =>
    pool.query(sql.unsafe`alter table offloop_migrations_log drop column attempts`),
  );
  await migrator.up();
  const rows = await withPool(url, (pool) =>
    pool.any(
      sql.type(z.object({ version: z.string(), attempts: z.number().nullable() }))`
        select version, attempts from offloop_migrations_log order by id`,
    ),
  );
  t.deepEqual(rows, [
    { version: '20260101000000', attempts: null },
    { version: '20260101000001', attempts: 1 },
  ]);
});
