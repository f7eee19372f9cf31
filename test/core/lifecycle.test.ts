import test from '../helpers/limited-test.ts';
import {
  LockNotAvailableError,
  MigrationDirtyError,
  MigrationFailedError,
  MigrationsPendingError,
  MigrationTimeoutError,
  MissingDownError,
  NonTransactionalStatementError,
  OfflineUnsupportedError,
  RunAbortedError,
  SingleTransactionConflictError,
  StatementTimeoutError,
  TargetAmbiguousError,
  TargetNotFoundError,
  ChecksumMismatchError,
  OutOfOrderError,
  type ProgressEvent,
} from '@offloop/core';
import { lockKeyFor } from '@offloop/core/engine';
import { createMigrator } from '@offloop/worker';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const FILES = {
  '20260101000000_users.sql':
    '-- migrate:up\ncreate table users (id int primary key, email text not null);\ncreate index users_email on users (email);\n\n-- migrate:down\ndrop table users;\n',
  '20260102000000_posts.sql':
    '-- migrate:up\ncreate table posts (id int primary key, user_id int references users (id));\n\n-- migrate:down\ndrop table posts;\n',
  '20260103000000_audit.ts': [
    "import type { MigrationContext } from '@offloop/core';",
    'export async function up({ connection, sql }: MigrationContext) {',
    '  await connection.query(sql.unsafe`create table audit (at timestamptz default now(), what text)`);',
    '  await connection.query(sql.unsafe`create function touch() returns trigger language plpgsql as $$ begin return new; end $$`);',
    '}',
    'export async function down({ connection, sql }: MigrationContext) {',
    '  await connection.query(sql.unsafe`drop function touch()`);',
    '  await connection.query(sql.unsafe`drop table audit`);',
    '}',
  ].join('\n'),
};

/** The user schema as text: tables, columns, indexes, functions (offloop's own tables excluded). */
const schemaOf = (url: string) =>
  withPool(url, async (pool) => {
    const rows = await pool.anyFirst(sql.type(z.object({ line: z.string() }))`
    select line from (
      select format('column %s.%s %s %s', table_name, column_name, data_type, is_nullable) as line
        from information_schema.columns where table_schema = 'public' and table_name not like 'offloop_%'
      union all
      select format('index %s %s', indexname, indexdef) from pg_indexes where schemaname = 'public' and tablename not like 'offloop_%'
      union all
      select format('function %s', proname) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'
    ) schema order by line`);
    return rows.join('\n');
  });

const versions = (url: string) =>
  withPool(url, (pool) =>
    pool.anyFirst(
      sql.type(
        z.object({ version: z.string() }),
      )`select version from offloop_migrations order by version`,
    ),
  );
const logOf = (url: string) =>
  withPool(url, (pool) =>
    pool.any(sql.type(
      z.object({
        version: z.string(),
        direction: z.string(),
        outcome: z.string(),
        statements_run: z.number().nullable(),
      }),
    )`
  select version, direction, outcome, statements_run from offloop_migrations_log order by id`),
  );

test('down to base and back up gives the same schema', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  const before = await schemaOf(url);
  t.true(before.includes('function touch'));

  const one = await migrator.down();
  t.deepEqual(
    one.reverted.map((m) => m.version),
    ['20260103000000'],
  );
  t.is(one.current, '20260102000000');

  const all = await migrator.down({ to: 'base' });
  t.deepEqual(
    all.reverted.map((m) => m.version),
    ['20260102000000', '20260101000000'],
  );
  t.is(all.current, null);
  t.is(await schemaOf(url), '');

  await migrator.up();
  t.is(await schemaOf(url), before);
  t.deepEqual(
    (await logOf(url)).map((row) => `${row.direction}:${row.version.slice(-8)}`),
    [
      'up:01000000',
      'up:02000000',
      'up:03000000',
      'down:03000000',
      'down:02000000',
      'down:01000000',
      'up:01000000',
      'up:02000000',
      'up:03000000',
    ],
  );
});

test('redo reverts and re-applies the newest migration', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  const result = await migrator.redo();
  t.deepEqual(
    result.reverted.map((m) => m.version),
    ['20260103000000'],
  );
  t.deepEqual(
    result.applied.map((m) => m.version),
    ['20260103000000'],
  );
  t.deepEqual(await versions(url), ['20260101000000', '20260102000000', '20260103000000']);
});

test('targets: relative steps, prefixes, and an ambiguous prefix', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  await using migrator = createMigrator({ url, dir });
  t.is((await migrator.up({ to: '+2' })).current, '20260102000000');
  t.is((await migrator.down({ to: '-1' })).current, '20260101000000');
  t.is((await migrator.up({ to: '2026010300' })).current, '20260103000000');
  await t.throwsAsync(migrator.down({ to: '202601' }), {
    instanceOf: TargetAmbiguousError,
    code: 'TARGET_AMBIGUOUS',
  });
  t.is((await migrator.down({ to: '20260101' })).current, '20260101000000');
});

test('every migration to revert is checked for a down section before anything runs', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_a.sql': '-- migrate:up\ncreate table a (id int);\n',
    '20260102000000_b.sql':
      '-- migrate:up\ncreate table b (id int);\n-- migrate:down\ndrop table b;\n',
    '20260103000000_c.ts': 'export async function up() {}\n',
  });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  const error = await t.throwsAsync(migrator.down({ to: 'base' }), {
    instanceOf: MissingDownError,
    code: 'MIGRATION_DOWN_MISSING',
  });
  t.deepEqual(
    error.details.migrations.map((m) => m.file),
    ['20260103000000_c.ts', '20260101000000_a.sql'],
  );
  t.deepEqual(await versions(url), ['20260101000000', '20260102000000', '20260103000000']);
});

test('stamp adopts an existing database; up then runs only what is after the stamp', async (t) => {
  const url = await createTestDatabase(t);
  // The database already has what the first two migrations would create.
  await withPool(url, async (pool) => {
    await pool.query(sql.unsafe`create table users (id int primary key, email text not null)`);
    await pool.query(sql.unsafe`create table posts (id int primary key)`);
  });
  const dir = await migrationsDir(t, FILES);
  await using migrator = createMigrator({ url, dir });
  const stamped = await migrator.stamp({ to: '20260102' });
  t.deepEqual(stamped.stamped, ['20260101000000', '20260102000000']);
  t.is(stamped.current, '20260102000000');
  const result = await migrator.up();
  t.deepEqual(
    result.applied.map((m) => m.version),
    ['20260103000000'],
  );
  t.deepEqual(
    (await logOf(url)).map((row) => row.direction),
    ['stamp', 'stamp', 'up'],
  );

  const base = await migrator.stamp({ to: 'base' });
  t.deepEqual(base.unstamped, ['20260101000000', '20260102000000', '20260103000000']);
  t.deepEqual(await versions(url), []);
});

test('repair accepts edited checksums after a dry run, and forgets missing files only when asked', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  await writeFile(
    join(dir, '20260101000000_users.sql'),
    `${FILES['20260101000000_users.sql']}-- a comment\n`,
  );
  await rm(join(dir, '20260102000000_posts.sql'));
  await t.throwsAsync(migrator.check(), { code: 'MIGRATION_FILE_MISSING' });

  const dry = await migrator.repair({ dryRun: true });
  t.true(dry.dryRun);
  t.deepEqual(
    dry.actions.map((action) => action.kind),
    ['accept-checksum'],
  );
  t.deepEqual(dry.skippedMissing, ['20260102000000_posts']);
  await t.throwsAsync(migrator.check(), { code: 'MIGRATION_FILE_MISSING' });

  await migrator.repair();
  await t.throwsAsync(migrator.check(), { code: 'MIGRATION_FILE_MISSING' });
  await migrator.repair({ forgetMissing: true });
  t.like(await migrator.check(), { ok: true, current: '20260103000000', applied: 2 });
  t.deepEqual(
    (await logOf(url)).slice(-2).map((row) => row.direction),
    ['repair-checksum', 'repair-forget'],
  );
});

test('check reports each condition with its code', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260102000000_users.sql': FILES['20260101000000_users.sql'],
  });
  await using migrator = createMigrator({ url, dir });
  await t.throwsAsync(migrator.check(), {
    instanceOf: MigrationsPendingError,
    code: 'MIGRATIONS_PENDING',
  });
  await migrator.up();
  t.like(await migrator.check(), { ok: true });
  await writeFile(join(dir, '20260101000000_early.sql'), '-- migrate:up\nselect 1;\n');
  await t.throwsAsync(migrator.check(), {
    instanceOf: OutOfOrderError,
    code: 'MIGRATION_OUT_OF_ORDER',
  });
  await t.throwsAsync(migrator.check({ allowOutOfOrder: true }), {
    instanceOf: MigrationsPendingError,
  });
  await writeFile(join(dir, '20260102000000_users.sql'), '-- migrate:up\nselect 2;\n');
  await t.throwsAsync(migrator.check(), {
    instanceOf: ChecksumMismatchError,
    code: 'CHECKSUM_MISMATCH',
  });
});

test('--allow-out-of-order applies a migration merged from a parallel branch', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260102000000_users.sql': FILES['20260101000000_users.sql'],
  });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  await writeFile(
    join(dir, '20260101000000_early.sql'),
    '-- migrate:up\ncreate table early (id int);\n',
  );
  const refused = await t.throwsAsync(migrator.up(), { instanceOf: OutOfOrderError });
  t.regex(refused.message, /--allow-out-of-order/);
  const result = await migrator.up({ allowOutOfOrder: true });
  t.deepEqual(
    result.applied.map((m) => m.version),
    ['20260101000000'],
  );
});

test('a transactional file with CREATE INDEX CONCURRENTLY is refused before any statement runs', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    '20260102000000_index.sql':
      '-- migrate:up\ncreate table t (id int);\n\ncreate index concurrently t_id on t (id);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: NonTransactionalStatementError,
    code: 'NON_TRANSACTIONAL_STATEMENT',
  });
  t.like(error.details, {
    file: '20260102000000_index.sql',
    line: 4,
    statement: 'CREATE INDEX CONCURRENTLY',
  });
  t.regex(error.message, /transaction:false/);
  t.deepEqual(await versions(url).catch(() => []), []);
});

test('a non-transactional migration runs CREATE INDEX CONCURRENTLY while another session holds locks on other tables', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    '20260102000000_other.sql': '-- migrate:up\ncreate table other (id int);\n',
    '20260103000000_index.sql':
      '-- migrate:up transaction:false\ncreate index concurrently users_id_email on users (id, email);\n',
  });
  await using migrator = createMigrator({ url, dir });
  await migrator.up({ to: '20260102000000' });
  await withPool(url, (pool) =>
    pool.connect(async (connection) =>
      connection.transaction(async (transaction) => {
        await transaction.query(sql.unsafe`lock table other in access exclusive mode`);
        const result = await migrator.up();
        t.deepEqual(
          result.applied.map((m) => m.version),
          ['20260103000000'],
        );
      }),
    ),
  );
  const valid = await withPool(url, (pool) =>
    pool.oneFirst(sql.type(z.object({ valid: z.boolean() }))`
    select indisvalid as valid from pg_index where indexrelid = 'users_id_email'::regclass`),
  );
  t.true(valid);
});

test('a non-transactional migration failing at its second statement keeps the first and blocks the next run', async (t) => {
  const url = await createTestDatabase(t);
  const file = '20260102000000_indexes.sql';
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    [file]:
      '-- migrate:up transaction:false\ncreate index concurrently users_a on users (email);\ncreate index concurrently users_b on nope (email);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
  t.like(error.details, {
    transactional: false,
    statementsRun: 1,
    statement: 2,
    line: 3,
    sqlstate: '42P01',
  });
  t.deepEqual(await versions(url), ['20260101000000']);
  const indexes = await withPool(url, (pool) =>
    pool.anyFirst(
      sql.type(
        z.object({ name: z.string() }),
      )`select indexname as name from pg_indexes where tablename = 'users' order by 1`,
    ),
  );
  t.true(indexes.includes('users_a'));
  t.like((await logOf(url)).at(-1), {
    version: '20260102000000',
    outcome: 'partial',
    statements_run: 1,
  });

  const blocked = await t.throwsAsync(migrator.up(), {
    instanceOf: MigrationDirtyError,
    code: 'MIGRATION_DIRTY',
  });
  t.regex(blocked.message, /repair/);
  t.is((await migrator.status()).problems[0]?.kind, 'failed');

  // Fix the file (idempotent first statement, right table): an edited file runs again.
  await writeFile(
    join(dir, file),
    '-- migrate:up transaction:false\ncreate index concurrently if not exists users_a on users (email);\ncreate index concurrently if not exists users_b on users (id);\n',
  );
  t.deepEqual(
    (await migrator.up()).applied.map((m) => m.version),
    ['20260102000000'],
  );
});

test('repair clears a failed non-transactional run so that it runs again', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    '20260102000000_flaky.sql':
      '-- migrate:up transaction:false\ncreate index concurrently if not exists users_a on users (email);\ncreate index concurrently if not exists users_b on later (id);\n',
  });
  await using migrator = createMigrator({ url, dir });
  await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
  await t.throwsAsync(migrator.up(), { instanceOf: MigrationDirtyError });
  await withPool(url, (pool) => pool.query(sql.unsafe`create table later (id int)`));
  const repaired = await migrator.repair();
  t.deepEqual(
    repaired.actions.map((action) => action.kind),
    ['resolve-failed'],
  );
  t.deepEqual(
    (await migrator.up()).applied.map((m) => m.version),
    ['20260102000000'],
  );
});

test('single transaction: a failure rolls back the whole run; non-transactional migrations are refused', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    '20260102000000_bad.sql': '-- migrate:up\ninsert into nope values (1);\n',
  });
  await using migrator = createMigrator({ url, dir });
  await t.throwsAsync(migrator.up({ singleTransaction: true }), {
    instanceOf: MigrationFailedError,
  });
  t.deepEqual(await versions(url), []);
  t.is(await schemaOf(url), '');

  await writeFile(
    join(dir, '20260102000000_bad.sql'),
    '-- migrate:up transaction:false\ncreate index concurrently i on users (id);\n',
  );
  await t.throwsAsync(migrator.up({ singleTransaction: true }), {
    instanceOf: SingleTransactionConflictError,
    code: 'SINGLE_TRANSACTION_CONFLICT',
  });
  t.deepEqual(await versions(url), []);
});

test('lock_timeout on the marker line ends a blocked migration with LOCK_NOT_AVAILABLE', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    '20260102000000_alter.sql':
      '-- migrate:up lock_timeout:200ms lock_retries:0\nalter table users add column name text;\n',
  });
  await using migrator = createMigrator({ url, dir });
  await migrator.up({ to: '20260101000000' });
  await withPool(url, (pool) =>
    pool.connect(async (connection) =>
      connection.transaction(async (transaction) => {
        await transaction.query(sql.unsafe`lock table users in access share mode`);
        const error = await t.throwsAsync(migrator.up(), {
          instanceOf: LockNotAvailableError,
          code: 'LOCK_NOT_AVAILABLE',
        });
        t.like(error.details, { sqlstate: '55P03', file: '20260102000000_alter.sql', line: 2 });
      }),
    ),
  );
});

test('statement_timeout on the marker line ends a slow statement with STATEMENT_TIMEOUT', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_slow.sql': '-- migrate:up statement_timeout:200ms\nselect pg_sleep(5);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: StatementTimeoutError,
    code: 'STATEMENT_TIMEOUT',
  });
  t.is(error.details.sqlstate, '57014');
});

test('migrationTimeout cancels a long migration on the server with MIGRATION_TIMEOUT', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_slow.sql': '-- migrate:up\ncreate table s (id int);\nselect pg_sleep(30);\n',
  });
  // Long enough for `create table` on a loaded machine (the timeout must land in pg_sleep), far
  // below pg_sleep's 30 s.
  await using migrator = createMigrator({ url, dir, migrationTimeout: 3_000 });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: MigrationTimeoutError,
    code: 'MIGRATION_TIMEOUT',
  });
  t.is(error.details.statement, 2);
  t.deepEqual(await versions(url), []);
});

test('aborting during a long statement cancels it on the server, rolls back and frees the lock', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    '20260102000000_sleep.sql':
      '-- migrate:up\ncreate table half (id int);\nselect pg_sleep(30);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const controller = new AbortController();
  const events: ProgressEvent[] = [];
  const run = migrator.up({
    signal: controller.signal,
    onProgress: (event) => {
      events.push(event);
      if (event.type === 'migration:backend' && event.version === '20260102000000')
        setTimeout(() => controller.abort(), 300);
    },
  });
  const error = await t.throwsAsync(run, { instanceOf: RunAbortedError, code: 'RUN_ABORTED' });
  t.deepEqual(
    error.details.applied.map((m) => m.version),
    ['20260101000000'],
  );
  const pid = events.flatMap((event) =>
    event.type === 'migration:backend' && event.version === '20260102000000' ? [event.pid] : [],
  )[0];
  const key = lockKeyFor({ schema: 'public', table: 'offloop_migrations' });
  await withPool(url, async (pool) => {
    const state = await pool.maybeOneFirst(
      sql.type(
        z.object({ state: z.string().nullable() }),
      )`select state from pg_stat_activity where pid = ${pid ?? 0}`,
    );
    t.not(state, 'active');
    const free = await pool.oneFirst(
      sql.type(
        z.object({ free: z.boolean() }),
      )`select pg_try_advisory_lock(${key}::bigint) as free`,
    );
    t.true(free);
    const half = await pool.oneFirst(
      sql.type(z.object({ exists: z.boolean() }))`select to_regclass('half') is not null as exists`,
    );
    t.false(half);
  });
});

test('offline SQL from base needs no database and holds transactions and version rows', async (t) => {
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    '20260102000000_posts.sql': FILES['20260102000000_posts.sql'],
  });
  await using migrator = createMigrator({ url: 'postgres://nobody@127.0.0.1:1/none', dir });
  const { script, steps } = await migrator.sql({ from: 'base' });
  t.is(steps.length, 2);
  t.regex(
    script,
    /begin;\ncreate table users[^]*insert into "public"\."offloop_migrations" \(version[^]*'20260101000000'[^]*commit;/,
  );
  const down = await migrator.sql({ direction: 'down', from: '20260102000000' });
  t.regex(
    down.script,
    /drop table posts;\ndelete from "public"\."offloop_migrations" where version = '20260102000000';/,
  );
  const withModule = await migrationsDir(t, FILES);
  await using other = createMigrator({
    url: 'postgres://nobody@127.0.0.1:1/none',
    dir: withModule,
  });
  await t.throwsAsync(other.sql({ from: 'base' }), {
    instanceOf: OfflineUnsupportedError,
    code: 'OFFLINE_UNSUPPORTED',
  });
});

test('plan lists what up and down would do, with statement counts and options', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    ...FILES,
    '20260104000000_index.sql':
      '-- migrate:up transaction:false lock_timeout:5s\ncreate index concurrently i on users (email);\n-- migrate:down\ndrop index i;\n',
  });
  await using migrator = createMigrator({ url, dir });
  const planned = await migrator.plan();
  t.deepEqual(
    planned.steps.map((step) => [
      step.version,
      step.statements,
      step.transactional,
      step.lockTimeout,
    ]),
    [
      ['20260101000000', 2, true, null],
      ['20260102000000', 1, true, null],
      ['20260103000000', null, true, null],
      ['20260104000000', 1, false, 5000],
    ],
  );
  t.deepEqual(await versions(url).catch(() => []), []);
  await migrator.up();
  t.deepEqual(
    (await migrator.plan({ direction: 'down', step: 2 })).steps.map((step) => step.version),
    ['20260104000000', '20260103000000'],
  );
});

test('history lists applied migrations newest first, and the log keeps failures', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    ...FILES,
    '20260104000000_bad.sql': '-- migrate:up\nselect * from nope;\n',
  });
  await using migrator = createMigrator({ url, dir });
  await t.throwsAsync(migrator.up());
  const { applied, log } = await migrator.history();
  t.deepEqual(
    applied.map((m) => m.version),
    ['20260103000000', '20260102000000', '20260101000000'],
  );
  t.like(log[0], { version: '20260104000000', direction: 'up', outcome: 'failed' });
  t.regex(log[0]?.error ?? '', /MIGRATION_FAILED/);
  t.like(await migrator.current(), { current: '20260103000000', name: 'audit' });
});

test('down --step past the applied migrations and down --to a pending version are refused before anything runs', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  await using migrator = createMigrator({ url, dir });
  await migrator.up({ to: '20260102000000' });
  await t.throwsAsync(migrator.down({ step: 3 }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
  await t.throwsAsync(migrator.redo({ step: 3 }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
  await t.throwsAsync(migrator.plan({ direction: 'down', step: 3 }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
  await t.throwsAsync(migrator.down({ to: '20260103000000' }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
  await t.throwsAsync(migrator.down({ to: '-3' }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
  t.deepEqual(await versions(url), ['20260101000000', '20260102000000'], 'nothing was reverted');
  t.deepEqual(
    (await migrator.down({ step: 2 })).reverted.map((m) => m.version),
    ['20260102000000', '20260101000000'],
  );
  t.deepEqual(
    (await migrator.down()).reverted,
    [],
    'a plain down with nothing applied has nothing to do',
  );
});

test('down after an out-of-order apply reverts what was applied last; --to goes back to when that version was applied', async (t) => {
  const url = await createTestDatabase(t);
  const early = '-- migrate:up\ncreate table early (id int);\n-- migrate:down\ndrop table early;\n';
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    '20260103000000_posts.sql': FILES['20260102000000_posts.sql'],
  });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  await writeFile(join(dir, '20260102000000_early.sql'), early);
  await migrator.up({ allowOutOfOrder: true });

  const plannedDown = await migrator.plan({ direction: 'down', step: 3 });
  t.deepEqual(
    plannedDown.steps.map((step) => step.version),
    ['20260102000000', '20260103000000', '20260101000000'],
  );
  t.deepEqual(
    (await migrator.down()).reverted.map((m) => m.version),
    ['20260102000000'],
  );
  t.deepEqual(await versions(url), ['20260101000000', '20260103000000']);

  await migrator.up({ allowOutOfOrder: true });
  // 20260102 was applied after 20260103: going back to 20260103 reverts it.
  t.deepEqual(
    (await migrator.down({ to: '20260103000000' })).reverted.map((m) => m.version),
    ['20260102000000'],
  );
  await migrator.up({ allowOutOfOrder: true });
  const toFirst = await migrator.down({ to: '20260101000000' });
  t.deepEqual(
    toFirst.reverted.map((m) => m.version),
    ['20260102000000', '20260103000000'],
  );
  t.is(toFirst.current, '20260101000000');
});

test('single transaction: migrations are reported finished only after the COMMIT, never when it rolls back', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': FILES['20260101000000_users.sql'],
    '20260102000000_posts.sql': FILES['20260102000000_posts.sql'],
    '20260103000000_bad.sql': '-- migrate:up\nselect * from nope;\n',
  });
  await using migrator = createMigrator({ url, dir });
  const failed: ProgressEvent[] = [];
  const error = await t.throwsAsync(
    migrator.up({ singleTransaction: true, onProgress: (event) => failed.push(event) }),
    { instanceOf: MigrationFailedError, code: 'MIGRATION_FAILED' },
  );
  t.deepEqual(error.details.applied, []);
  t.is(failed.filter((event) => event.type === 'migration:started').length, 3);
  t.deepEqual(
    failed.filter((event) => event.type === 'migration:finished'),
    [],
    'nothing is reported applied',
  );

  await rm(join(dir, '20260103000000_bad.sql'));
  const events: ProgressEvent[] = [];
  const result = await migrator.up({
    singleTransaction: true,
    onProgress: (event) => events.push(event),
  });
  const types = events
    .map((event) => event.type)
    .filter((type) => type === 'migration:started' || type === 'migration:finished');
  t.deepEqual(
    types,
    ['migration:started', 'migration:started', 'migration:finished', 'migration:finished'],
    'finished after every migration ran, at the COMMIT',
  );
  const finished = events.flatMap((event) =>
    event.type === 'migration:finished' ? [[event.version, event.index, event.durationMs]] : [],
  );
  t.deepEqual(
    finished,
    result.applied.map((m, index) => [m.version, index + 1, m.durationMs]),
  );
});

test('the durations a run reports are the ones stored in the version table and the log', async (t) => {
  const url = await createTestDatabase(t);
  const files: Record<string, string> = {};
  // Batched SQL (timed on the server), a module and a transaction:false file (timed in the worker).
  for (let i = 1; i <= 8; i += 1)
    files[`2026010${i}000000_t${i}.sql`] =
      `-- migrate:up\ncreate table t${i} (id int);\nselect pg_sleep(0.01);\n-- migrate:down\ndrop table t${i};\n`;
  files['20260109000000_module.ts'] =
    'export async function up({ connection, sql }) { await connection.query(sql.unsafe`create table m (id int)`); }\nexport async function down({ connection, sql }) { await connection.query(sql.unsafe`drop table m`); }\n';
  files['20260110000000_plain.sql'] =
    '-- migrate:up transaction:false\ncreate table p (id int);\n-- migrate:down transaction:false\ndrop table p;\n';
  const dir = await migrationsDir(t, files);
  await using migrator = createMigrator({ url, dir });
  const durations = (direction: string) =>
    withPool(url, (pool) =>
      pool.any(sql.type(
        z.object({
          version: z.string(),
          stored: z.number().nullable(),
          logged: z.number().nullable(),
        }),
      )`
    select l.version, m.duration_ms as stored, l.duration_ms as logged from offloop_migrations_log l
    left join offloop_migrations m using (version)
    where l.direction = ${direction} and l.outcome = 'succeeded' order by l.id`),
    );

  const up = await migrator.up();
  const stored = await durations('up');
  t.deepEqual(
    stored.map((entry) => [entry.version, entry.stored]),
    up.applied.map((m) => [m.version, m.durationMs]),
  );
  t.deepEqual(
    stored.map((entry) => [entry.version, entry.logged]),
    up.applied.map((m) => [m.version, m.durationMs]),
  );
  t.deepEqual(
    (await migrator.history()).applied.map((m) => [m.version, m.durationMs]).reverse(),
    up.applied.map((m) => [m.version, m.durationMs]),
  );

  const down = await migrator.down({ to: 'base' });
  t.deepEqual(
    (await durations('down')).map((entry) => [entry.version, entry.logged]),
    down.reverted.map((m) => [m.version, m.durationMs]),
  );

  const single = await migrator.up({ singleTransaction: true, to: '20260109000000' });
  t.is(single.applied.length, 9);
  t.deepEqual(
    (await durations('up')).slice(-9).map((entry) => [entry.version, entry.stored]),
    single.applied.map((m) => [m.version, m.durationMs]),
  );
});
