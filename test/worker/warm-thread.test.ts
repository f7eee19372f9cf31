import test from '../helpers/limited-test.ts';
import { createMigrator, isOffloopError, MigratorClosedError } from '@offloop/worker';
import { execFile } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { promisify } from 'node:util';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { offloopBackends, terminate } from '../helpers/probes.ts';
import { poll } from '@offloop/core';

const USERS = '-- migrate:up\ncreate table users (id int);\n-- migrate:down\ndrop table users;\n';

const backends = (url: string) => withPool(url, (pool) => offloopBackends(pool));

test('calls on one migrator share one warm thread and one connection, which close() ends at once', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  const migrator = createMigrator({ url, dir });
  t.is((await migrator.up()).applied.length, 1);
  await migrator.status();
  const [kept, ...others] = await backends(url);
  t.deepEqual(others, [], 'one connection stays between calls');
  t.is(kept?.state, 'idle');
  // Each call tags the connection it takes with its own run tag (the host finds a dead thread's
  // backends by it).
  const tagBefore = kept?.applicationName;
  const status = await migrator.status();
  t.deepEqual(status.pending, []);
  const [again] = await backends(url);
  t.is(again?.pid, kept?.pid, 'the next call reused it');
  t.not(again?.applicationName, tagBefore, 'with the new call tag');

  await migrator.close();
  const gone = await poll(() => backends(url), {
    until: (left) => left.length === 0,
    intervalMs: 20,
    timeoutMs: 2_000,
  });
  t.false(gone.timedOut, 'close() leaves no backend behind');
});

test('a kept connection the server ended while it idled is replaced: the next call does not fail', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  const [kept] = await backends(url);
  t.not(kept, undefined);
  await withPool(url, (pool) => terminate(pool, [kept?.pid ?? 0]));
  t.deepEqual((await migrator.status()).pending, []);
  const [fresh] = await backends(url);
  t.not(fresh?.pid, kept?.pid, 'a new connection served the call, and is kept');
});

test('workerIdleTimeout 0 ends the thread and its connection after each call', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url, dir, workerIdleTimeout: 0 });
  await migrator.up();
  const gone = await poll(() => backends(url), {
    until: (left) => left.length === 0,
    intervalMs: 20,
    timeoutMs: 2_000,
  });
  t.false(gone.timedOut);
});

test('a script that migrates and never closes still exits by itself, at once', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  const script = new URL('../fixtures/migrate-no-close.ts', import.meta.url).pathname;
  const started = performance.now();
  const { stdout } = await promisify(execFile)(process.execPath, [script, url, dir], {
    timeout: 60_000,
  });
  const exitedAfterMs = performance.now() - started - Number(stdout);
  // The warm thread (30 s by default) and its connection hold no process open.
  t.true(exitedAfterMs < 10_000, `exited ${Math.round(exitedAfterMs)} ms after its last line`);
});

test.serial(
  'warm() starts the thread and opens the connection, and the first call runs on both',
  async (t) => {
    const url = await createTestDatabase(t);
    const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
    // Node announces each Worker it creates on this channel, whoever creates it.
    const started: unknown[] = [];
    const onWorker = (message: unknown) => started.push(message);
    diagnostics.subscribe('worker_threads', onWorker);
    t.teardown(() => diagnostics.unsubscribe('worker_threads', onWorker));
    await using migrator = createMigrator({ url, dir });
    t.is(started.length, 0, 'createMigrator() starts no thread');
    await migrator.warm();
    t.is(started.length, 1, 'warm() started one');
    const [opened, ...others] = await backends(url);
    t.deepEqual(others, [], 'and opened one connection');
    t.is(opened?.state, 'idle');
    await migrator.warm();
    t.is((await migrator.status()).pending.length, 1);
    t.is(started.length, 1, 'a second warm() and the first call ran on the same thread');
    const [used, ...more] = await backends(url);
    t.deepEqual(more, []);
    t.is(used?.pid, opened?.pid, 'the first call took the connection warm() opened');
  },
);

test('warm() does not fail for a database that cannot be reached; the next call reports it, typed', async (t) => {
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  // Port 1: nothing listens there, the connection is refused at once.
  const url = 'postgres://postgres@127.0.0.1:1/nowhere';
  await using migrator = createMigrator({ url, dir, connectTimeout: '2s' });
  await migrator.warm();
  const error = await t.throwsAsync(migrator.status());
  t.true(isOffloopError(error), String(error));
});

test('warm() on a closed migrator, or one closed while it warms, rejects with MIGRATOR_CLOSED', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  const closing = createMigrator({ url, dir });
  const warming = closing.warm();
  await closing.close();
  await t.throwsAsync(warming, { instanceOf: MigratorClosedError });
  await t.throwsAsync(closing.warm(), { instanceOf: MigratorClosedError });
});
