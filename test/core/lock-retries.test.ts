/**
 * Retries after a lock timeout (issue 12): each attempt gets a short lock_timeout, a migration
 * that cannot get its lock in time is rolled back and tried again, and once the attempts run out
 * it fails with LOCK_NOT_AVAILABLE naming the session that held the lock.
 *
 * The blocker is a test-owned session holding ACCESS SHARE on `users` in an open transaction,
 * as a long report would: the migration's ALTER (ACCESS EXCLUSIVE) waits behind it.
 */
import type { ExecutionContext } from 'ava';
import test from '../helpers/limited-test.ts';
import {
  LockNotAvailableError,
  type LockBlocker,
  type MigrationLockRetryEvent,
  type ProgressEvent,
} from '@offloop/core';
import { createMigrator, type MigratorOptions } from '@offloop/worker';
import { LockRetries } from '../../packages/core/src/engine/apply/lock-retry.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { createTestDatabase } from '../helpers/database.ts';
import { eventually } from '../helpers/eventually.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { invalidIndexes, openProbePool } from '../helpers/probes.ts';

const USERS = '-- migrate:up\ncreate table users (id int primary key);\n';
const ALTER = '-- migrate:up\nalter table users add column note text;\n';

/** Retries that a test can watch quickly: short pauses, many attempts. */
const QUICK: Partial<MigratorOptions> = {
  statementLockTimeout: 100,
  lockRetryMaxTimeout: 400,
  lockRetryMaxWait: 300,
  lockRetries: 30,
};

/** A session holding ACCESS SHARE on `table` in an open transaction until `release()`. */
type Blocker = { readonly pid: number; release(): Promise<void> };

async function probe(t: ExecutionContext, url: string): Promise<DatabasePool> {
  const pool = await openProbePool(url);
  t.teardown(() => pool.end());
  return pool;
}

async function block(pool: DatabasePool, table: string): Promise<Blocker> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started!: (pid: number) => void;
  const pid = new Promise<number>((resolve) => {
    started = resolve;
  });
  const held = pool.transaction(async (transaction) => {
    await transaction.query(sql.unsafe`set local application_name = 'nightly-report'`);
    await transaction.query(
      sql.unsafe`lock table ${sql.identifier(['public', table])} in access share mode`,
    );
    started(
      await transaction.oneFirst(
        sql.type(z.object({ pid: z.number() }))`select pg_backend_pid() as pid`,
      ),
    );
    await released;
  });
  const blocker = await Promise.race([pid, held.then(() => -1)]);
  return {
    pid: blocker,
    async release() {
      release();
      await held;
    },
  };
}

/** Set up `users` (applied), then the rest of `files` pending. */
async function setup(
  t: ExecutionContext,
  files: Record<string, string>,
  options: Partial<MigratorOptions> = QUICK,
) {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS, ...files });
  const events: ProgressEvent[] = [];
  const created = createMigrator({ url, dir, ...options });
  t.teardown(() => created.close());
  await created.up({ to: '20260101000000' });
  const pool = await probe(t, url);
  const migrator = {
    up: () => created.up({ onProgress: (event) => events.push(event) }),
  };
  return { url, migrator, events, pool };
}

const retriesOf = (events: readonly ProgressEvent[]): MigrationLockRetryEvent[] =>
  events.filter((event): event is MigrationLockRetryEvent => event.type === 'migration:lock-retry');

/** The log rows of `version`: outcome and attempts. */
async function logOf(pool: DatabasePool, version: string) {
  return pool.any(sql.type(z.object({ outcome: z.string(), attempts: z.number().nullable() }))`
    select outcome, attempts from offloop_migrations_log where version = ${version} order by id`);
}

const columns = (pool: DatabasePool, table: string) =>
  pool.anyFirst(sql.type(z.object({ name: z.string() }))`
    select column_name as name from information_schema.columns
    where table_schema = 'public' and table_name = ${table} order by ordinal_position`);

test('a migration blocked by a long transaction retries, and succeeds once the transaction ends', async (t) => {
  const { migrator, events, pool } = await setup(t, { '20260102000000_note.sql': ALTER });
  const blocker = await block(pool, 'users');
  // Open longer than the longest lock_timeout (400 ms) before the migration starts: a report.
  await sleep(600);
  const run = migrator.up();
  t.true(await eventually(() => retriesOf(events).length >= 3, 20_000), 'it retried');
  await blocker.release();
  await run;

  const retries = retriesOf(events);
  t.deepEqual(
    retries.map((event) => event.attempt),
    retries.map((_, index) => index + 1),
  );
  t.like(retries[0], {
    version: '20260102000000',
    attempts: 31,
    statement: null,
    lockTimeoutMs: 100,
  });
  for (const event of retries) {
    t.true(
      event.waitMs > 0 && event.waitMs <= 300,
      `a pause within lockRetryMaxWait: ${event.waitMs}`,
    );
    t.true(event.nextLockTimeoutMs <= 400);
  }
  const seen = retries.flatMap((event) => event.blockedBy);
  t.true(seen.length > 0, 'the blocker was seen while the statement waited');
  t.like(seen[0], { pid: blocker.pid, applicationName: 'nightly-report', user: 'postgres' });
  t.regex(seen[0]?.query ?? '', /select pg_backend_pid/, 'its last query');
  // Behind a transaction open longer than the longest timeout, the timeout does not grow. An
  // attempt whose short wait was not sampled (a loaded machine: the look comes every 25 ms) knows
  // no blocker and doubles it, up to the longest; from the first blocker seen on, it stays.
  const timeouts = retries.map((event) => event.nextLockTimeoutMs);
  const firstSeen = retries.findIndex((event) => event.blockedBy.length > 0);
  t.true(
    firstSeen !== -1 &&
      timeouts
        .slice(0, firstSeen)
        .every((timeout, index) => timeout === Math.min(100 * 2 ** (index + 1), 400)) &&
      timeouts.slice(firstSeen).every((timeout) => timeout === timeouts[firstSeen]) &&
      timeouts.every((timeout) => timeout <= 400),
    `timeouts: ${timeouts.join(', ')}`,
  );
  t.is(timeouts[0], retries[0]?.blockedBy.length === 0 ? 200 : 100);
  t.deepEqual(await columns(pool, 'users'), ['id', 'note']);
  const [row] = await logOf(pool, '20260102000000');
  t.is(row?.outcome, 'succeeded');
  t.is(row?.attempts, retries.length + 1);
});

test('the lock_timeout doubles up to lockRetryMaxTimeout, but not behind a transaction open longer than that', (t) => {
  const config = {
    statementLockTimeout: 100,
    lockRetries: 10,
    lockRetryMaxTimeout: 1_000,
    lockRetryMaxWait: 10_000,
  };
  const blocker = (transactionMs: number | null): LockBlocker => ({
    pid: 1,
    applicationName: '',
    user: null,
    state: 'active',
    transactionMs,
    query: null,
  });
  const timeouts = (retries: LockRetries, blockers: readonly LockBlocker[]) =>
    Array.from({ length: 6 }, () => {
      retries.advance(blockers);
      return retries.timeoutMs;
    });
  const defaults = { lockTimeout: null, lockRetries: null };
  t.deepEqual(
    timeouts(new LockRetries(config, defaults), [blocker(300)]),
    [200, 400, 800, 1000, 1000, 1000],
  );
  t.deepEqual(timeouts(new LockRetries(config, defaults), []), [200, 400, 800, 1000, 1000, 1000]);
  t.deepEqual(
    timeouts(new LockRetries(config, defaults), [blocker(5_000)]),
    [100, 100, 100, 100, 100, 100],
  );
  // A marker-line lock_timeout stays as it is; lock_retries:0 turns retries off.
  t.deepEqual(
    timeouts(new LockRetries(config, { lockTimeout: 250, lockRetries: null }), [blocker(300)]),
    [250, 250, 250, 250, 250, 250],
  );
  t.is(new LockRetries(config, { lockTimeout: null, lockRetries: 0 }).attempts, 1);
  t.is(new LockRetries(config, defaults).attempts, 11);
  // No lock_timeout: nothing can time out, nothing to retry.
  t.is(new LockRetries({ ...config, statementLockTimeout: 0 }, defaults).attempts, 1);
  const pauses = Array.from({ length: 10 }, (_, index) =>
    new LockRetries(config, defaults).pauseMs(index + 1),
  );
  t.true(
    pauses.every((ms, index) => ms >= 125 * 2 ** index - 1 || ms >= 5_000),
    `pauses: ${pauses.join(', ')}`,
  );
  t.true(pauses.every((ms) => ms <= 10_000));
});

test('when the attempts run out, LOCK_NOT_AVAILABLE names the blocker, and the log has the attempts', async (t) => {
  const { migrator, events, pool } = await setup(
    t,
    { '20260102000000_note.sql': ALTER },
    { ...QUICK, lockRetries: 2 },
  );
  const blocker = await block(pool, 'users');
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: LockNotAvailableError,
    code: 'LOCK_NOT_AVAILABLE',
  });
  await blocker.release();
  t.is(error.details.attempts, 3);
  t.is(error.details.sqlstate, '55P03');
  t.like(error.details.blockedBy[0], { pid: blocker.pid, applicationName: 'nightly-report' });
  t.regex(
    error.message,
    new RegExp(
      `on each of 3 attempts\\. It waited for backend ${blocker.pid} \\(application "nightly-report", user postgres, idle in transaction, transaction open [\\d.]+ s\\): select`,
    ),
  );
  t.regex(error.message, /was rolled back/);
  t.is(retriesOf(events).length, 2);
  t.deepEqual(await columns(pool, 'users'), ['id']);
  t.deepEqual(await logOf(pool, '20260102000000'), [{ outcome: 'failed', attempts: 3 }]);
});

test('retries off: lockRetries 0 in the config, or lock_retries:0 on the marker line, fails at the first timeout', async (t) => {
  const off = await setup(t, { '20260102000000_note.sql': ALTER }, { ...QUICK, lockRetries: 0 });
  const marker = await setup(t, {
    '20260102000000_note.sql':
      '-- migrate:up lock_retries:0\nalter table users add column note text;\n',
  });
  for (const { migrator, events, pool } of [off, marker]) {
    const blocker = await block(pool, 'users');
    const error = await t.throwsAsync(migrator.up(), { instanceOf: LockNotAvailableError });
    await blocker.release();
    t.is(error.details.attempts, 1);
    t.deepEqual(retriesOf(events), []);
    await migrator.up();
  }
});

test('a marker-line lock_timeout is kept as it is on every attempt, and still retried', async (t) => {
  const { migrator, events, pool } = await setup(t, {
    '20260102000000_note.sql':
      '-- migrate:up lock_timeout:150ms\nalter table users add column note text;\n',
  });
  const blocker = await block(pool, 'users');
  const run = migrator.up();
  t.true(await eventually(() => retriesOf(events).length >= 2, 20_000), 'it retried');
  await blocker.release();
  await run;
  t.true(
    retriesOf(events).every(
      (event) => event.lockTimeoutMs === 150 && event.nextLockTimeoutMs === 150,
    ),
  );
});

test('only the migration that timed out is retried: the one committed before it ran once', async (t) => {
  const { migrator, events, pool } = await setup(t, {
    '20260102000000_other.sql': '-- migrate:up\ncreate table other (id int);\n',
    '20260103000000_note.sql': ALTER,
  });
  const blocker = await block(pool, 'users');
  const run = migrator.up();
  t.true(await eventually(() => retriesOf(events).length >= 2, 20_000), 'it retried');
  await blocker.release();
  await run;
  t.true(retriesOf(events).every((event) => event.version === '20260103000000'));
  t.deepEqual(await logOf(pool, '20260102000000'), [{ outcome: 'succeeded', attempts: 1 }]);
  t.is((await logOf(pool, '20260103000000'))[0]?.attempts, retriesOf(events).length + 1);
});

test('a non-transactional migration retries only the statement that timed out', async (t) => {
  const { migrator, events, pool } = await setup(t, {
    '20260102000000_note.sql':
      '-- migrate:up transaction:false\ncreate table first (id int);\nalter table users add column note text;\ncreate table last (id int);\n',
  });
  const blocker = await block(pool, 'users');
  const run = migrator.up();
  t.true(await eventually(() => retriesOf(events).length >= 2, 20_000), 'it retried');
  await blocker.release();
  await run;
  t.true(retriesOf(events).every((event) => event.statement === 2));
  t.deepEqual(await columns(pool, 'users'), ['id', 'note']);
  t.deepEqual(await logOf(pool, '20260102000000'), [
    { outcome: 'started', attempts: null },
    { outcome: 'succeeded', attempts: retriesOf(events).length + 1 },
  ]);
});

test('a concurrent index build gets no short lock_timeout: it waits for the old transaction, and leaves no INVALID index', async (t) => {
  const { migrator, events, pool } = await setup(t, {
    '20260102000000_index.sql':
      '-- migrate:up transaction:false\ncreate index concurrently users_id on users (id);\n',
  });
  const blocker = await block(pool, 'users');
  const run = migrator.up();
  // Many times the 100 ms lock_timeout: still waiting, not failed nor retried.
  await sleep(1_500);
  t.deepEqual(retriesOf(events), []);
  await blocker.release();
  await run;
  t.deepEqual(await invalidIndexes(pool), []);
  t.is((await logOf(pool, '20260102000000')).at(-1)?.outcome, 'succeeded');
});

test('a module migration is called again in a new transaction; `lockRetries = 0` opts out', async (t) => {
  const module = (extra: string) =>
    `${extra}export async function up({ connection, sql, progress }) {\n` +
    "  progress('up called');\n" +
    '  await connection.query(sql.unsafe`create table audit (id int)`);\n' +
    '  await connection.query(sql.unsafe`alter table users add column note text`);\n}\n';
  const retried = await setup(t, { '20260102000000_note.mjs': module('') });
  const optedOut = await setup(t, {
    '20260102000000_note.mjs': module('export const lockRetries = 0;\n'),
  });
  const calls = (events: readonly ProgressEvent[]) =>
    events.filter((event) => event.type === 'migration:progress').length;

  const blocker = await block(retried.pool, 'users');
  const run = retried.migrator.up();
  t.true(await eventually(() => retriesOf(retried.events).length >= 2, 20_000), 'it retried');
  await blocker.release();
  await run;
  t.is(calls(retried.events), retriesOf(retried.events).length + 1, 'up() ran once per attempt');
  t.deepEqual(await columns(retried.pool, 'users'), ['id', 'note']);

  const other = await block(optedOut.pool, 'users');
  const error = await t.throwsAsync(optedOut.migrator.up(), { instanceOf: LockNotAvailableError });
  await other.release();
  t.is(error.details.attempts, 1);
  t.is(calls(optedOut.events), 1);
  t.deepEqual(await columns(optedOut.pool, 'audit'), [], 'its first statement was rolled back');
});

test("the application's queries on the table queue for about the lock_timeout, not for the blocker's whole transaction", async (t) => {
  const { migrator, events, pool } = await setup(
    t,
    { '20260102000000_note.sql': ALTER },
    {
      ...QUICK,
      lockRetryMaxTimeout: 100,
    },
  );
  const blocker = await block(pool, 'users');
  const run = migrator.up();
  // The worker thread may take seconds to start on a loaded machine: watch from the first retry.
  t.true(await eventually(() => retriesOf(events).length >= 1, 30_000), 'the migration retries');
  // The application: a query on users every 20 ms, on its own connection, for 3 s of retries.
  const latencies: number[] = [];
  const until = performance.now() + 3_000;
  await pool.connect(async (connection) => {
    while (performance.now() < until) {
      const started = performance.now();
      await connection.query(sql.unsafe`select count(*) from users`);
      latencies.push(performance.now() - started);
      await sleep(20);
    }
  });
  t.true(retriesOf(events).length >= 2, 'the migration retried meanwhile');
  await blocker.release();
  await run;
  const worst = Math.max(...latencies);
  // 100 ms lock_timeout; a generous bound for a loaded machine, far below the 3 s the app would wait without it.
  t.true(worst < 1_500, `the slowest application query took ${Math.round(worst)} ms`);
});

test('a log table made before the attempts column is upgraded, and read before that', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  const pool = await probe(t, url);
  // The log table as offloop made it before the column.
  await pool.query(sql.unsafe`
    create table offloop_migrations (version text primary key, name text not null,
      checksum text not null, applied_at timestamptz not null default now(),
      duration_ms integer not null, applied_by text not null)`);
  await pool.query(sql.unsafe`
    create table offloop_migrations_log (id bigint generated always as identity primary key,
      version text not null, name text not null, direction text not null, checksum text,
      outcome text not null, applied_by text not null,
      at timestamptz not null default clock_timestamp(), duration_ms integer, error text,
      statements_run integer)`);
  await pool.query(sql.unsafe`
    insert into offloop_migrations_log (version, name, direction, outcome, applied_by)
    values ('20250101000000', 'old', 'stamp', 'succeeded', 'someone')`);
  await using migrator = createMigrator({ url, dir });
  const before = await migrator.history();
  t.is(before.log[0]?.attempts, null, 'read-only history reads the old table');
  await migrator.up();
  t.deepEqual((await columns(pool, 'offloop_migrations_log')).at(-1), 'attempts');
  t.deepEqual(await logOf(pool, '20260101000000'), [{ outcome: 'succeeded', attempts: 1 }]);
});
