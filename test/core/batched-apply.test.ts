// A transactional SQL migration goes to the server as one script (begin, statements, version and
// log rows, commit). These tests hold that path to what the statement-by-statement path gave:
// the failing statement named, nothing kept, no session state leaking, exact bookkeeping; and
// the start of a run, which now reads the files while it connects and takes the lock.
import test from '../helpers/limited-test.ts';
import {
  MigrationFailedError,
  MigrationFileNameError,
  NonTransactionalStatementError,
} from '@offloop/core';
import { lockKeyFor } from '@offloop/core/engine';
import { createMigrator } from '@offloop/worker';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const tablesOf = (url: string) =>
  withPool(url, (pool) =>
    pool.anyFirst(sql.type(z.object({ t: z.string() }))`
  select n.nspname || '.' || c.relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and not starts_with(c.relname, 'offloop_') order by 1`),
  );

test('a failure the server gives no position for names the statement, its line, and keeps nothing', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_ok.sql': '-- migrate:up\ncreate table ok (id int);\n',
    '20260102000000_dup.sql':
      '-- migrate:up\ncreate table a (id int primary key);\ninsert into a values (1);\n\n  insert into a values (1);\ncreate table never (id int);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: MigrationFailedError,
    code: 'MIGRATION_FAILED',
  });
  t.like(error?.details, {
    file: '20260102000000_dup.sql',
    line: 5,
    column: 3,
    statement: 3,
    statementCount: 4,
    statementsRun: 2,
    sqlstate: '23505',
    transactional: true,
  });
  t.deepEqual(
    error?.details.applied.map((m) => m.version),
    ['20260101000000'],
  );
  t.regex(error?.message ?? '', /^20260102000000_dup\.sql:5:3: duplicate key value/);
  t.deepEqual(await tablesOf(url), ['public.ok']);
  const log = await withPool(url, (pool) =>
    pool.any(
      sql.type(
        z.object({ version: z.string(), outcome: z.string() }),
      )`select version, outcome from offloop_migrations_log order by id`,
    ),
  );
  t.deepEqual(log, [
    { version: '20260101000000', outcome: 'succeeded' },
    { version: '20260102000000', outcome: 'failed' },
  ]);
  // The session was rolled back and reset: the next run applies the fixed file.
  await migrator.close();
});

test('a failure with a server position points at its line and column in the file', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_typo.sql':
      '-- migrate:up\ncreate table b (id int);\n-- a comment\nselect id,\n       nosuch from b;\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
  t.like(error?.details, { line: 5, column: 8, statement: 2, sqlstate: '42703' });
});

test('what a migration sets for its session does not reach the next migration', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    // A plain `set` inside the migration's transaction outlives its commit on that session.
    '20260101000000_path.sql':
      '-- migrate:up\nset search_path = nowhere;\ncreate table public.first (id int) -- no semicolon, a comment last',
    '20260102000000_next.sql': '-- migrate:up\ncreate table second (id int);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const result = await migrator.up();
  t.is(result.applied.length, 2);
  t.deepEqual(await tablesOf(url), ['public.first', 'public.second']);
});

test('applied_by with quotes and backslashes, and the time the migration took, are recorded exactly', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_slow.sql':
      '-- migrate:up\nselect pg_sleep(0.2);\ncreate table slow (id int);\n',
  });
  const appliedBy = String.raw`o'brien\ci "runner"`;
  await using migrator = createMigrator({ url, dir, appliedBy });
  await migrator.up();
  const row = await withPool(url, (pool) =>
    pool.one(sql.type(
      z.object({
        applied_by: z.string(),
        duration_ms: z.number(),
        log_by: z.string(),
        log_ms: z.number(),
      }),
    )`
    select m.applied_by, m.duration_ms, l.applied_by as log_by, l.duration_ms as log_ms
    from offloop_migrations m join offloop_migrations_log l using (version)`),
  );
  t.is(row.applied_by, appliedBy);
  t.is(row.log_by, appliedBy);
  t.true(row.duration_ms >= 200, `duration_ms ${row.duration_ms}`);
  t.true(row.log_ms >= 200, `log duration_ms ${row.log_ms}`);
});

test('BEGIN or COMMIT in a transactional migration is refused before anything runs; with transaction:false it runs', async (t) => {
  const url = await createTestDatabase(t);
  const body = 'create table t1 (id int);\ncommit;\nbegin;\ncreate table t2 (id int);\n';
  const refused = await migrationsDir(t, { '20260101000000_tx.sql': `-- migrate:up\n${body}` });
  await using migrator = createMigrator({ url, dir: refused });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: NonTransactionalStatementError,
    code: 'NON_TRANSACTIONAL_STATEMENT',
  });
  t.like(error?.details, { line: 3, statement: 'COMMIT' });
  t.regex(error?.message ?? '', /Remove the COMMIT/);
  t.deepEqual(await tablesOf(url).catch(() => []), []);

  const allowed = await migrationsDir(t, {
    '20260101000000_tx.sql': `-- migrate:up transaction:false\n${body}commit;\n`,
  });
  await using own = createMigrator({ url, dir: allowed });
  t.is((await own.up()).applied.length, 1);
  t.deepEqual(await tablesOf(url), ['public.t1', 'public.t2']);
});

test('a character outside the BMP before the error does not shift the reported column, batched or not', async (t) => {
  const line = "select '😀' as smile, nosuch from e;";
  for (const marker of ['-- migrate:up', '-- migrate:up transaction:false']) {
    const url = await createTestDatabase(t);
    const dir = await migrationsDir(t, {
      '20260101000000_emoji.sql': `${marker}\ncreate table e (note text default '😀😀');\n${line}\n`,
    });
    await using migrator = createMigrator({ url, dir });
    const error = await t.throwsAsync(migrator.up(), { instanceOf: MigrationFailedError });
    // Columns count UTF-16 units, as editors do: the one of `nosuch` in that line.
    t.like(
      error?.details,
      { line: 3, column: line.indexOf('nosuch') + 1, statement: 2, sqlstate: '42703' },
      marker,
    );
  }
});

test('a bad file is reported at once, even while another runner holds the lock', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_ok.sql': '-- migrate:up\ncreate table ok (id int);\n',
    'not_a_migration.sql': 'select 1;\n',
  });
  await withPool(url, (pool) =>
    pool.connect(async (connection) => {
      await connection.query(
        sql.unsafe`select pg_advisory_lock(${lockKeyFor({ schema: 'public', table: 'offloop_migrations' })}::bigint)`,
      );
      await using migrator = createMigrator({ url, dir, lockTimeout: '60s' });
      const started = performance.now();
      await t.throwsAsync(migrator.up(), {
        instanceOf: MigrationFileNameError,
        code: 'MIGRATION_FILE_NAME_INVALID',
      });
      // Not after the lock timeout: the failed file read stops the wait.
      t.true(performance.now() - started < 30_000);
    }),
  );
});
