import test from '../helpers/limited-test.ts';
import {
  MigratorClosedError,
  RunAbortedError,
  RunTimeoutError,
  WorkerUnresponsiveError,
  type OffloopError,
  type ProgressEvent,
} from '@offloop/core';
import { createMigrator } from '@offloop/worker';
import { createTestDatabase } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { settledServerState } from '../helpers/isolation.ts';

const FIRST = '-- migrate:up\ncreate table first (id int);\n';
const THIRD = '-- migrate:up\ncreate table third (id int);\n';
/** Aborted while its sleep runs, the engine stops before the next statement. */
const SLOW = '-- migrate:up\nselect pg_sleep(0.5);\ncreate table second (id int);\n';

const versionsOf = (events: readonly { version: string }[]) => events.map((event) => event.version);

test('an abort between statements rejects with RUN_ABORTED, keeps earlier migrations and rolls back the current one', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_first.sql': FIRST,
    '20260102000000_second.sql': SLOW,
    '20260103000000_third.sql': THIRD,
  });
  await using migrator = createMigrator({ url, dir });
  const controller = new AbortController();
  const run = migrator.up({
    signal: controller.signal,
    onProgress: (event: ProgressEvent) => {
      if (event.type === 'migration:started' && event.version === '20260102000000')
        controller.abort(new Error('deploy cancelled'));
    },
  });
  const error = await t.throwsAsync(run, { instanceOf: RunAbortedError, code: 'RUN_ABORTED' });
  t.deepEqual(versionsOf(error.details.applied), ['20260101000000']);
  const state = await settledServerState(url);
  t.deepEqual(state.tables, ['first']);
  t.deepEqual(state.versions, ['20260101000000']);
  t.is(state.advisoryLocks, 0);
  t.deepEqual(state.backends, []);
});

test('a call timeout rejects with RUN_TIMEOUT carrying the results so far', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_first.sql': FIRST,
    '20260102000000_second.sql':
      '-- migrate:up\nselect pg_sleep(3);\ncreate table second (id int);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up({ timeout: '1s' }), {
    instanceOf: RunTimeoutError,
    code: 'RUN_TIMEOUT',
  });
  t.is(error.details.timeoutMs, 1000);
  const state = await settledServerState(url);
  // Whatever the timing, the error reports exactly what the database holds.
  t.deepEqual(versionsOf(error.details.applied), state.versions);
  t.false(state.tables.includes('second'));
  t.is(state.advisoryLocks, 0);
});

test('cancel during a long statement: the call rejects long before the statement would end, and the server is clean', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_first.sql': FIRST,
    '20260102000000_sleep.sql':
      '-- migrate:up\ncreate table sleeper (id int);\nselect pg_sleep(30);\n',
  });
  await using migrator = createMigrator({ url, dir, cancelGracePeriod: '1s' });
  const controller = new AbortController();
  const run = migrator.up({
    signal: controller.signal,
    onProgress: (event) => {
      if (event.type === 'migration:started' && event.version === '20260102000000')
        setTimeout(() => controller.abort(), 200);
    },
  });
  const started = performance.now();
  const error = await t.throwsAsync<OffloopError>(run);
  // The engine cancels the statement on the server (RUN_ABORTED); failing that, the host
  // terminates the thread after the grace period and cancels it from a fresh thread.
  t.true(error.code === 'RUN_ABORTED' || error.code === 'WORKER_UNRESPONSIVE', error.code);
  t.true(performance.now() - started < 25_000, 'rejected before pg_sleep(30) could finish');
  t.deepEqual(versionsOf((error.details as { applied: { version: string }[] }).applied), [
    '20260101000000',
  ]);
  const state = await settledServerState(url);
  t.deepEqual(state.backends, [], 'no backend left running or idle in transaction');
  t.is(state.advisoryLocks, 0, 'the lock is free');
  t.deepEqual(state.tables, ['first'], 'nothing of the cancelled migration remains');
  t.deepEqual(state.versions, ['20260101000000']);

  // The migrator still works: the next call runs in a fresh worker.
  const again = await migrator.status();
  t.deepEqual(
    again.pending.map((m) => m.version),
    ['20260102000000'],
  );
});

test('a signal aborted before the call rejects at once and starts nothing', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_first.sql': FIRST });
  await using migrator = createMigrator({ url, dir });
  const error = await t.throwsAsync(migrator.up({ signal: AbortSignal.abort() }), {
    instanceOf: RunAbortedError,
    code: 'RUN_ABORTED',
  });
  t.deepEqual(error.details.applied, []);
  t.deepEqual((await settledServerState(url)).tables, []);
});

test('a call queued behind another one is dropped from the queue when aborted', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_slow.sql':
      '-- migrate:up\nselect pg_sleep(0.5);\ncreate table slow (id int);\n',
  });
  await using migrator = createMigrator({ url, dir });
  const first = migrator.up();
  const controller = new AbortController();
  const second = migrator.up({ signal: controller.signal });
  controller.abort();
  await t.throwsAsync(second, { instanceOf: RunAbortedError, code: 'RUN_ABORTED' });
  t.deepEqual(versionsOf((await first).applied), ['20260101000000']);
});

test('close() during a run cancels it with MIGRATOR_CLOSED and leaves nothing running', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_first.sql': FIRST,
    '20260102000000_second.sql': SLOW,
  });
  const migrator = createMigrator({ url, dir });
  const run = migrator.up({
    onProgress: (event) => {
      if (event.type === 'migration:started' && event.version === '20260102000000')
        void migrator.close();
    },
  });
  const error = await t.throwsAsync(run, {
    instanceOf: MigratorClosedError,
    code: 'MIGRATOR_CLOSED',
  });
  t.deepEqual(versionsOf((error.details as { applied: { version: string }[] }).applied), [
    '20260101000000',
  ]);
  await migrator.close();
  const state = await settledServerState(url);
  t.deepEqual(state.tables, ['first']);
  t.deepEqual(state.backends, []);
});

test('a timeout on a worker busy in JavaScript ends in WORKER_UNRESPONSIVE, caused by RUN_TIMEOUT', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_spin.ts': 'export function up() { for (;;) {} }\n',
  });
  await using migrator = createMigrator({ url, dir, cancelGracePeriod: '300ms' });
  await migrator.status(); // the thread is up and the engine loaded: the timeout hits the loop
  const error = await t.throwsAsync(migrator.up({ timeout: '3s' }), {
    instanceOf: WorkerUnresponsiveError,
    code: 'WORKER_UNRESPONSIVE',
  });
  t.is((error.cause as OffloopError | undefined)?.code, 'RUN_TIMEOUT');
  const state = await settledServerState(url);
  t.deepEqual(state.backends, []);
  t.is(state.advisoryLocks, 0);
});
