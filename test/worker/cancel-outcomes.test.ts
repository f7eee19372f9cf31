/**
 * The two ways a cancelled call ends, each forced, so that neither path can break unnoticed:
 *
 * - The worker is responsive: the engine cancels the running statement on the server itself,
 *   and the call rejects with `RUN_ABORTED` long before the grace period runs out.
 * - The worker's thread is blocked: the host terminates it once the grace period is over
 *   (`WORKER_UNRESPONSIVE`, caused by `RUN_ABORTED`), and a fresh thread cancels the statement
 *   the blocked one left running.
 *
 * (test/worker/cancel.test.ts has a cancel test that accepts either outcome: it checks the
 * server is clean whichever path ran; these pin down each path.)
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import test from '../helpers/limited-test.ts';
import {
  RunAbortedError,
  WorkerUnresponsiveError,
  type OffloopError,
  type ProgressEvent,
} from '@offloop/core';
import { createMigrator } from '@offloop/worker';
import { createTestDatabase } from '../helpers/database.ts';
import { eventually } from '../helpers/eventually.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { settledServerState } from '../helpers/isolation.ts';
import { openProbePool } from '../helpers/probes.ts';

const FIRST = '-- migrate:up\ncreate table first (id int);\n';

/** Abort the call once `version` has started, after `delayMs` (so its statement is running). */
function abortWhenStarted(controller: AbortController, version: string, delayMs: number) {
  return (event: ProgressEvent): void => {
    if (event.type === 'migration:started' && event.version === version)
      setTimeout(() => controller.abort(), delayMs);
  };
}

test('responsive worker: an abort during a statement that never ends by itself is RUN_ABORTED, cancelled on the server by the engine', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_first.sql': FIRST,
    // An hour: only a server-side cancel ends it.
    '20260102000000_sleep.sql':
      '-- migrate:up\ncreate table sleeper (id int);\nselect pg_sleep(3600);\n',
  });
  // A grace period far longer than a cancel takes: if the engine did not cancel on the server,
  // the host would terminate the thread after it and report WORKER_UNRESPONSIVE instead.
  await using migrator = createMigrator({ url, dir, cancelGracePeriod: '60s' });
  const controller = new AbortController();
  const error = await t.throwsAsync(
    migrator.up({
      signal: controller.signal,
      onProgress: abortWhenStarted(controller, '20260102000000', 300),
    }),
    { instanceOf: RunAbortedError, code: 'RUN_ABORTED' },
  );
  t.deepEqual(
    error.details.applied.map((m) => m.version),
    ['20260101000000'],
  );
  const state = await settledServerState(url);
  t.deepEqual(state.backends, [], 'the sleep was cancelled, no backend is left');
  t.is(state.advisoryLocks, 0);
  t.deepEqual(state.tables, ['first'], 'the cancelled migration was rolled back');
  t.deepEqual(state.versions, ['20260101000000']);
});

test('blocked worker: an abort while the thread spins with a statement running is WORKER_UNRESPONSIVE after the grace period, and the statement is cancelled from a fresh thread', async (t) => {
  const url = await createTestDatabase(t);
  // The module starts an hour-long statement and, once the test has seen it on the server (the
  // file `go`), blocks its thread for good, saying so first (the file `spinning`): the abort
  // comes only then, so the thread cannot be responsive when it arrives.
  const signals = await mkdtemp(path.join(os.tmpdir(), 'offloop-blocker-'));
  t.teardown(() => rm(signals, { recursive: true, force: true }));
  const go = path.join(signals, 'go');
  const spinning = path.join(signals, 'spinning');
  const blocker = `import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
export async function up({ connection, sql }) {
  await connection.query(sql.unsafe\`create table blocked (id int)\`);
  void connection.query(sql.unsafe\`select pg_sleep(3600)\`).catch(() => {});
  while (!existsSync(${JSON.stringify(go)})) await sleep(10);
  writeFileSync(${JSON.stringify(spinning)}, '');
  for (;;) {}
}\n`;
  const dir = await migrationsDir(t, {
    '20260101000000_first.sql': FIRST,
    '20260102000000_blocker.mjs': blocker,
  });
  await using migrator = createMigrator({ url, dir, cancelGracePeriod: '500ms' });
  const controller = new AbortController();
  const outcome = t.throwsAsync(migrator.up({ signal: controller.signal }), {
    instanceOf: WorkerUnresponsiveError,
    code: 'WORKER_UNRESPONSIVE',
  });
  const probe = await openProbePool(url);
  t.teardown(() => probe.end());
  t.true(
    await eventually(
      async () =>
        (await probe.oneFirst(sql.unsafe`
          select count(*)::int from pg_stat_activity
          where datname = current_database() and state = 'active'
            and query like 'select pg_sleep(3600)%'`)) === 1,
      60_000,
    ),
    "the module's statement reached the server",
  );
  await writeFile(go, '');
  t.true(await eventually(() => existsSync(spinning), 60_000), "the module's thread spins");
  controller.abort();
  const error = await outcome;
  t.is(error.details.graceMs, 500);
  t.is((error.cause as OffloopError | undefined)?.code, 'RUN_ABORTED');
  t.deepEqual(
    (error.details.applied as readonly { version: string }[]).map((m) => m.version),
    ['20260101000000'],
  );
  const state = await settledServerState(url);
  t.deepEqual(state.backends, [], 'no backend is left running the sleep');
  t.is(state.advisoryLocks, 0);
  t.deepEqual(state.tables, ['first'], 'nothing of the blocked migration was committed');
  t.deepEqual(state.versions, ['20260101000000']);

  // The fresh thread that cancelled the statement also logged the failure the dead one could not.
  const history = await migrator.history();
  const logged = history.log.find((entry) => entry.version === '20260102000000');
  t.is(logged?.outcome, 'failed');
  t.regex(logged?.error ?? '', /WORKER_UNRESPONSIVE/);

  // The migrator recovers: the next call runs in a fresh thread and sees the migration pending.
  const status = await migrator.status();
  t.deepEqual(
    status.pending.map((m) => m.version),
    ['20260102000000'],
  );
});
