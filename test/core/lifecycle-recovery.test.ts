/**
 * The days something goes wrong, beyond the happy path of `lifecycle.test.ts`: a non-transactional
 * migration that fails twice, a concurrent index build that leaves an INVALID index, a failed
 * down, single-transaction runs, and the checks that must refuse what `up` would refuse.
 */
import test from '../helpers/limited-test.ts';
import {
  MigrationDirtyError,
  MigrationFailedError,
  MissingDownError,
  NonTransactionalStatementError,
  SqlSyntaxError,
  type ProgressEvent,
} from '@offloop/core';
import { createMigrator } from '@offloop/worker';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const USERS =
  '-- migrate:up\ncreate table users (id int primary key, email text not null);\n\n-- migrate:down\ndrop table users;\n';

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
const tables = (url: string) =>
  withPool(url, (pool) =>
    pool.anyFirst(sql.type(z.object({ name: z.string() }))`
  select tablename as name from pg_tables where schemaname = 'public' and tablename not like 'offloop_%' order by 1`),
  );

test('a second failed attempt at a partly applied migration keeps it unresolved: check, status and repair still see it', async (t) => {
  const url = await createTestDatabase(t);
  const file = '20260102000000_partial.sql';
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    [file]:
      '-- migrate:up transaction:false\ncreate table first (id int);\nalter table users add column nope_typo intt;\n',
  });
  await using migrator = createMigrator({ url, dir });
  await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
  t.deepEqual(await tables(url), ['first', 'users']);

  // The "fix" changes the file (so the run tries again), but its first statement now fails:
  // the table from the first attempt is still there.
  await writeFile(
    join(dir, file),
    '-- migrate:up transaction:false\ncreate table first (id int);\nalter table users add column name text;\n',
  );
  const again = await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
  t.like(again.details, { statementsRun: 0, sqlstate: '42P07' });
  t.regex(again.message, /an earlier run at \S+ had already left 1 statement applied/);
  t.regex(again.message, /Until this is resolved, the next runs refuse to start/);
  t.notRegex(again.message, /nothing of it stays applied/);

  const status = await migrator.status();
  // Unchanged since this second failure, the file would fail the same way: the run refuses it.
  t.like(status.problems[0], {
    kind: 'failed',
    version: '20260102000000',
    statementsRun: 0,
    fileChanged: false,
  });
  const blocked = await t.throwsAsync(migrator.up(), { instanceOf: MigrationDirtyError });
  t.regex(blocked.message, /before its first statement completed, leaving work behind/);
  await t.throwsAsync(migrator.check(), { instanceOf: MigrationDirtyError });
  t.deepEqual(
    (await migrator.repair({ dryRun: true })).actions.map((action) => [
      action.kind,
      action.version,
    ]),
    [['resolve-failed', '20260102000000']],
  );

  // Made safe to run again from the start, it applies, and that resolves it.
  await writeFile(
    join(dir, file),
    '-- migrate:up transaction:false\ncreate table if not exists first (id int);\nalter table users add column name text;\n',
  );
  t.deepEqual(
    (await migrator.up()).applied.map((m) => m.version),
    ['20260102000000'],
  );
  t.deepEqual((await migrator.status()).problems, []);
  t.deepEqual(
    (await logOf(url)).filter((row) => row.version === '20260102000000').map((row) => row.outcome),
    ['started', 'partial', 'started', 'partial', 'started', 'succeeded'],
  );
});

test('a failed CREATE UNIQUE INDEX CONCURRENTLY reports the INVALID index it left, and the next run refuses until it is resolved', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql':
      "-- migrate:up\ncreate table users (id int, email text);\ninsert into users values (1, 'a@example.com'), (2, 'a@example.com');\n",
    '20260102000000_unique.sql':
      '-- migrate:up transaction:false\ncreate unique index concurrently users_email_key on users (email);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
  t.like(error.details, {
    sqlstate: '23505',
    statementsRun: 0,
    invalidIndexes: ['users_email_key'],
  });
  t.regex(error.message, /left the index users_email_key behind, marked INVALID: drop it/);
  const valid = await withPool(url, (pool) =>
    pool.oneFirst(sql.type(z.object({ valid: z.boolean() }))`
    select indisvalid as valid from pg_index where indexrelid = 'users_email_key'::regclass`),
  );
  t.false(valid, 'PostgreSQL keeps the failed build as an INVALID index');
  t.like((await logOf(url)).at(-1), { version: '20260102000000', outcome: 'partial' });
  await t.throwsAsync(migrator.up(), { instanceOf: MigrationDirtyError });

  // The data fixed and the file made "safe to run again" with if not exists: PostgreSQL skips
  // the INVALID index, and offloop refuses to record a migration whose index does not work.
  await withPool(url, (pool) =>
    pool.query(sql.unsafe`update users set email = 'b@example.com' where id = 2`),
  );
  await writeFile(
    join(dir, '20260102000000_unique.sql'),
    '-- migrate:up transaction:false\ncreate unique index concurrently if not exists users_email_key on users (email);\n',
  );
  const skipped = await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
  t.regex(
    skipped.message,
    /the index "users_email_key" exists but is INVALID, left by an earlier failed build/,
  );
  t.deepEqual(
    (await migrator.status()).applied.map((m) => m.version),
    ['20260101000000'],
  );

  // Dropping it first is the way: the file now runs from its start and builds a valid index.
  await writeFile(
    join(dir, '20260102000000_unique.sql'),
    '-- migrate:up transaction:false\ndrop index concurrently if exists users_email_key;\ncreate unique index concurrently users_email_key on users (email);\n',
  );
  t.deepEqual(
    (await migrator.up()).applied.map((m) => m.version),
    ['20260102000000'],
  );
  const validNow = await withPool(url, (pool) =>
    pool.oneFirst(sql.type(z.object({ valid: z.boolean() }))`
    select indisvalid as valid from pg_index where indexrelid = 'users_email_key'::regclass`),
  );
  t.true(validNow);
  t.deepEqual((await migrator.status()).problems, []);
});

test('an INVALID index that was there before the failed build is not blamed on the run', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql':
      "-- migrate:up\ncreate table users (id int, email text);\ninsert into users values (1, 'a@example.com'), (2, 'a@example.com');\n",
    '20260102000000_index.sql':
      '-- migrate:up transaction:false\ncreate index concurrently on users (no_such_column);\n',
  });
  await using migrator = createMigrator({ url, dir });
  await migrator.up({ to: '20260101000000' });
  // Somebody else's failed build, before this run.
  await withPool(url, (pool) =>
    pool
      .query(sql.unsafe`create unique index concurrently someone_elses on users (email)`)
      .catch(() => undefined),
  );
  const error = await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
  t.like(error.details, { sqlstate: '42703', invalidIndexes: [] });
  t.regex(error.message, /none of its statements ran: nothing of it stays applied/);
  t.deepEqual((await migrator.status()).problems, []);
});

test('a non-transactional down that fails midway says it is still applied and how to go on', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_indexes.sql':
      '-- migrate:up transaction:false\ncreate index concurrently users_email on users (email);\n\n-- migrate:down transaction:false\ndrop index concurrently users_email;\ndrop index concurrently users_missing;\n',
  });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  const error = await t.throwsAsync(migrator.down(), { instanceOf: MigrationFailedError });
  t.like(error.details, { direction: 'down', statementsRun: 1 });
  t.regex(
    error.message,
    /It is still recorded as applied\. Either finish the revert by hand and run `offloop stamp` with the version before it/,
  );
  const blocked = await t.throwsAsync(migrator.down(), { instanceOf: MigrationDirtyError });
  t.is(blocked.details.direction, 'down');
  t.deepEqual(
    (await migrator.repair({ dryRun: true })).actions.map(
      (action) => action.kind === 'resolve-failed' && action.direction,
    ),
    ['down'],
  );

  // Finished by hand (nothing left to drop) and recorded as reverted with a stamp.
  await migrator.stamp({ to: '20260101000000' });
  t.deepEqual((await migrator.status()).problems, []);
  t.is((await migrator.current()).current, '20260101000000');
});

test("single transaction: a failure is in the log after the rollback, and one migration's timeouts do not reach the next", async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_strict.sql':
      '-- migrate:up lock_timeout:1s statement_timeout:3s\ncreate table strict (id int);\n',
    '20260102000000_plain.sql':
      "-- migrate:up\ncreate table seen as select current_setting('lock_timeout') as lock_timeout, current_setting('statement_timeout') as statement_timeout;\n",
  });
  await using migrator = createMigrator({ url, dir });
  await migrator.up({ singleTransaction: true });
  const seen = await withPool(url, (pool) =>
    pool.one(
      sql.type(
        z.object({ lock_timeout: z.string(), statement_timeout: z.string() }),
      )`select * from seen`,
    ),
  );
  // The configured first attempt's lock_timeout (100 ms by default), not the first migration's 1s.
  t.deepEqual(seen, { lock_timeout: '100ms', statement_timeout: '0' });

  await writeFile(
    join(dir, '20260103000000_more.sql'),
    '-- migrate:up\ncreate table more (id int);\n',
  );
  await writeFile(join(dir, '20260104000000_bad.sql'), '-- migrate:up\nselect 1 / 0;\n');
  const error = await t.throwsAsync(migrator.up({ singleTransaction: true }), {
    instanceOf: MigrationFailedError,
  });
  t.regex(
    error.message,
    /The whole run was one transaction \(singleTransaction\) and was rolled back: nothing of it stays applied, including the 1 migration that ran before this one\./,
  );
  t.deepEqual(error.details.applied, [], 'nothing the run did stays applied');
  t.false((await tables(url)).includes('more'));
  t.deepEqual((await logOf(url)).slice(2), [
    { version: '20260104000000', direction: 'up', outcome: 'failed', statements_run: null },
  ]);

  // A deferred constraint fails at the COMMIT, after every migration ran.
  await writeFile(
    join(dir, '20260104000000_bad.sql'),
    '-- migrate:up\ncreate table parent (id int primary key);\ncreate table child (parent_id int references parent deferrable initially deferred);\n',
  );
  await writeFile(
    join(dir, '20260105000000_orphan.sql'),
    '-- migrate:up\ninsert into child values (42);\n',
  );
  const atCommit = await t.throwsAsync(migrator.up({ singleTransaction: true }), {
    instanceOf: MigrationFailedError,
    code: 'MIGRATION_FAILED',
  });
  t.like(atCommit.details, { version: '20260105000000', sqlstate: '23503', applied: [] });
  t.regex(atCommit.message, /failed at its COMMIT, after all 3 migrations ran/);
  t.false((await tables(url)).includes('parent'));
  t.like((await logOf(url)).at(-1), { version: '20260105000000', outcome: 'failed' });
});

test('an empty down section is no down step: down refuses before reverting anything', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_posts.sql': '-- migrate:up\ncreate table posts (id int);\n\n-- migrate:down\n',
  });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  const error = await t.throwsAsync(migrator.down({ to: 'base' }), {
    instanceOf: MissingDownError,
  });
  t.deepEqual(
    error.details.migrations.map((m) => m.file),
    ['20260102000000_posts.sql'],
  );
  t.deepEqual(await tables(url), ['posts', 'users']);
});

test('up checks the down sections it applies: a CONCURRENTLY statement in a transactional down is refused before anything runs', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_index.sql':
      '-- migrate:up transaction:false\ncreate index concurrently users_email on users (email);\n\n-- migrate:down\ndrop index concurrently users_email;\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), { instanceOf: NonTransactionalStatementError });
  t.like(error.details, { direction: 'down', line: 5, statement: 'DROP INDEX CONCURRENTLY' });
  t.regex(error.message, /"-- migrate:down transaction:false"/);
  t.deepEqual(await tables(url), []);
});

test('ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY is refused in a transactional migration', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_detach.sql':
      '-- migrate:up\ncreate table t (id int) partition by range (id);\ncreate table t1 partition of t for values from (0) to (10);\nalter table t detach partition t1 concurrently;\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), { instanceOf: NonTransactionalStatementError });
  t.like(error.details, {
    line: 4,
    statement: 'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY',
  });
});

test('plan, offline SQL and check refuse what up refuses: a failed run, a syntax error in a pending file', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_partial.sql':
      '-- migrate:up transaction:false\ncreate table first (id int);\ninsert into nope values (1);\n',
  });
  await using migrator = createMigrator({ url, dir });
  await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
  await t.throwsAsync(migrator.plan(), { instanceOf: MigrationDirtyError });
  await t.throwsAsync(migrator.sql(), { instanceOf: MigrationDirtyError });
  await t.throwsAsync(migrator.check(), { instanceOf: MigrationDirtyError });

  await migrator.repair();
  await writeFile(
    join(dir, '20260102000000_partial.sql'),
    '-- migrate:up\ncreate table if not exists first (id int);\n',
  );
  await writeFile(
    join(dir, '20260103000000_broken.sql'),
    '-- migrate:up\ncreate tabel oops (id int);\n',
  );
  const syntax = await t.throwsAsync(migrator.check(), { instanceOf: SqlSyntaxError });
  t.like(syntax.details, { file: '20260103000000_broken.sql', line: 2 });
});

test('a migration waiting for a lock reports who holds it up, and goes on once the lock is free', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_name.sql': '-- migrate:up\nalter table users add column name text;\n',
  });
  // No lock_timeout: the statement waits (with the default one it would retry instead).
  await using migrator = createMigrator({ url, dir, statementLockTimeout: 0 });
  await migrator.up({ to: '20260101000000' });
  const events: ProgressEvent[] = [];
  await withPool(url, (pool) =>
    pool.connect(async (connection) => {
      const holder = await connection.oneFirst(
        sql.type(z.object({ pid: z.number() }))`select pg_backend_pid() as pid`,
      );
      await connection.query(sql.unsafe`begin`);
      await connection.query(sql.unsafe`lock table users in access share mode`);
      const run = migrator.up({ onProgress: (event) => void events.push(event) });
      // Held for a few seconds: the first report comes after about two.
      for (
        let waited = 0;
        waited < 20_000 && !events.some((event) => event.type === 'migration:blocked');
        waited += 100
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await connection.query(sql.unsafe`commit`);
      t.deepEqual(
        (await run).applied.map((m) => m.version),
        ['20260102000000'],
      );
      const blocked = events.find((event) => event.type === 'migration:blocked');
      t.like(blocked, {
        type: 'migration:blocked',
        version: '20260102000000',
        lockType: 'relation',
      });
      t.deepEqual(
        blocked?.type === 'migration:blocked'
          ? blocked.blockedBy.map((session) => session.pid)
          : [],
        [holder],
      );
    }),
  );
});

test('a run that dies during a non-transactional migration leaves it unresolved: the next run says it never finished', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_slow.sql':
      '-- migrate:up transaction:false\ncreate table first (id int);\nselect pg_sleep(60);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const run = migrator.up();
  // The connection dies under the migration (as when the host is killed): no outcome is logged.
  const backend = await withPool(url, async (pool) => {
    for (let waited = 0; waited < 20_000; waited += 100) {
      const pid = await pool.maybeOneFirst(
        sql.type(
          z.object({ pid: z.number() }),
        )`select pid from pg_stat_activity where query like 'select pg_sleep(60)%' and datname = current_database()`,
      );
      if (pid !== null) {
        await pool.query(sql.unsafe`select pg_terminate_backend(${pid})`);
        return pid;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return null;
  });
  t.not(backend, null);
  await t.throwsAsync(run);
  t.like((await logOf(url)).at(-1), { version: '20260102000000', outcome: 'started' });

  const blocked = await t.throwsAsync(migrator.up(), { instanceOf: MigrationDirtyError });
  t.regex(
    blocked.message,
    /whose `up` started at \S+ and never finished \(the process died or lost its connection\)/,
  );
  t.like((await migrator.status()).problems[0], {
    kind: 'failed',
    interrupted: true,
    version: '20260102000000',
  });

  // Its file deleted: only repair resolves it, and check says so.
  await rm(join(dir, '20260102000000_slow.sql'));
  const gone = await t.throwsAsync(migrator.check(), { instanceOf: MigrationDirtyError });
  t.regex(
    gone.message,
    /Its file is gone: once the database is as you want it, run `offloop repair` to clear this\./,
  );
  await migrator.repair();
  t.deepEqual((await migrator.status()).problems, []);
});
