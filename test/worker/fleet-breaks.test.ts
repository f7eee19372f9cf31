/**
 * A fleet at its edges: its shared lock connection ended under several runs, and the whole
 * `offloop fleet up` process killed with SIGKILL while targets are in flight. What each target
 * reports is what its database did, and a rerun finishes every target exactly once.
 *
 * The migrations in flight wait at a gate (a test-owned table lock, `closeGate`), so the break
 * lands mid-migration whatever the machine's speed.
 */
import test from '../helpers/limited-test.ts';
import { createFleet, FleetFailedError } from '@offloop/worker';
import type { ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type DatabasePool } from 'slonik';
import { createTestDatabase } from '../helpers/database.ts';
import { eventually } from '../helpers/eventually.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import {
  advisoryLockCount,
  advisoryLockHolders,
  backendsWaitingOn,
  closeGate,
  offloopBackends,
  openProbePool,
  terminate,
} from '../helpers/probes.ts';
import { startOffloop } from '../helpers/running.ts';

const TENANTS = ['tenant_1', 'tenant_2', 'tenant_3', 'tenant_4'];

/** A first migration, then one that waits at the gate and inserts one row when it passes it. */
const FILES = {
  '20260101000000_users.sql':
    '-- migrate:up\ncreate table users (id int primary key);\n-- migrate:down\ndrop table users;\n',
  '20260101000001_slow.sql':
    '-- migrate:up\ncreate table slow (id int);\nselect count(*) from public.gate;\n' +
    'insert into slow values (1);\n-- migrate:down\ndrop table slow;\n',
};
const VERSIONS = ['20260101000000', '20260101000001'];

/** A database holding the tenant schemas, and a probe pool on it (ended with the test). */
async function tenantDatabase(t: ExecutionContext): Promise<{ url: string; pool: DatabasePool }> {
  const url = await createTestDatabase(t);
  const pool = await openProbePool(url);
  t.teardown(() => pool.end());
  for (const schema of TENANTS)
    await pool.query(sql.unsafe`create schema ${sql.identifier([schema])}`);
  return { url, pool };
}

/** What each tenant holds: its applied versions, and how many rows the slow migration left. */
async function tenantState(
  pool: DatabasePool,
): Promise<Record<string, { versions: readonly string[]; slowRows: number | null }>> {
  const state: Record<string, { versions: readonly string[]; slowRows: number | null }> = {};
  for (const schema of TENANTS) {
    const hasLedger = await pool.oneFirst(
      sql.unsafe`select to_regclass(${`${schema}.offloop_migrations`}) is not null`,
    );
    const versions = hasLedger
      ? (
          await pool.anyFirst(
            sql.unsafe`select version from ${sql.identifier([schema, 'offloop_migrations'])} order by version`,
          )
        ).map(String)
      : [];
    const hasSlow = await pool.oneFirst(
      sql.unsafe`select to_regclass(${`${schema}.slow`}) is not null`,
    );
    const slowRows = hasSlow
      ? Number(
          await pool.oneFirst(
            sql.unsafe`select count(*)::int from ${sql.identifier([schema, 'slow'])}`,
          ),
        )
      : null;
    state[schema] = { versions, slowRows };
  }
  return state;
}

/** Every tenant fully migrated, the slow migration's row there once. */
const MIGRATED = Object.fromEntries(
  TENANTS.map((schema) => [schema, { versions: VERSIONS, slowRows: 1 }]),
);

/** Wait until `count` migrations wait at the gate; fails the test when they never do. */
async function atGate(t: ExecutionContext, pool: DatabasePool, count: number): Promise<number[]> {
  const reached = await eventually(
    async () => (await backendsWaitingOn(pool, 'gate')).length >= count,
    60_000,
  );
  t.true(reached, `${count} migrations reached the gate`);
  return (await backendsWaitingOn(pool, 'gate')).map((backend) => backend.pid);
}

/** Nothing of offloop's is left on the server: no backend, no advisory lock. */
async function nothingLeft(pool: DatabasePool): Promise<boolean> {
  return eventually(
    async () => (await offloopBackends(pool)).length === 0 && (await advisoryLockCount(pool)) === 0,
    15_000,
  );
}

test('the lock connection the runs in flight share is terminated: each reports LOCK_LOST, none commits, a rerun finishes them', async (t) => {
  t.timeout(120_000);
  const { url, pool } = await tenantDatabase(t);
  const dir = await migrationsDir(t, FILES);
  let gate = await closeGate(pool, 'gate');
  // One thread running all four targets at once: they share one lock connection (lock/lock.ts).
  // No lock_timeout: the migrations wait at the gate instead of retrying.
  const options = {
    url,
    dir,
    schemas: 'tenant_*',
    canary: 0,
    threads: 1,
    concurrency: TENANTS.length,
    statementLockTimeout: 0,
    workerIdleTimeout: 0,
  };
  await using fleet = createFleet(options);
  const running = fleet.up().then(
    () => null,
    (error: unknown) => error,
  );
  const waiting = await atGate(t, pool, TENANTS.length);
  const lockConnections = (await advisoryLockHolders(pool))
    .filter((holder) => holder.exclusive && !waiting.includes(holder.pid))
    .map((holder) => holder.pid);
  t.is(lockConnections.length, 1, 'the four runs hold their run locks on one connection');
  await terminate(pool, lockConnections);

  // Every run notices on its own, cancels its migration on the server and reports; only then
  // does the gate open (a migration left running would commit now).
  const error = await Promise.race([running, sleep(30_000, 'hung' as const)]);
  await gate.open();
  t.true(error instanceof FleetFailedError, `the fleet failed (${String(error)})`);
  if (!(error instanceof FleetFailedError)) return;
  t.deepEqual(
    error.details.targets.map((target) => [target.schema, target.outcome, target.error?.code]),
    TENANTS.map((schema) => [schema, 'failed', 'LOCK_LOST']),
  );
  t.deepEqual(
    error.details.targets.map((target) => target.applied.map((migration) => migration.version)),
    TENANTS.map(() => [VERSIONS[0]]),
    'each target reports the first migration applied, not the slow one',
  );
  await sleep(3_000);
  t.deepEqual(
    await tenantState(pool),
    Object.fromEntries(
      TENANTS.map((schema) => [schema, { versions: [VERSIONS[0]], slowRows: null }]),
    ),
    'what they reported is what the database holds, 3 s after the gate opened',
  );
  t.true(await nothingLeft(pool), 'no backend or advisory lock of the broken runs is left');

  gate = await closeGate(pool, 'gate');
  await gate.open();
  const rerun = await fleet.up();
  t.deepEqual(
    rerun.targets.map((target) => target.outcome),
    TENANTS.map(() => 'applied'),
  );
  t.deepEqual(await tenantState(pool), MIGRATED);
});

test('`offloop fleet up` killed with SIGKILL while targets are in flight: a rerun migrates every target exactly once', async (t) => {
  t.timeout(120_000);
  const { url, pool } = await tenantDatabase(t);
  const dir = await migrationsDir(t, FILES);
  const gate = await closeGate(pool, 'gate');
  const args = ['fleet', 'up', '--url', url, '--dir', dir, '--schemas', 'tenant_*'];
  const victim = startOffloop([
    ...args,
    '--canary',
    '0',
    '--concurrency',
    '2',
    '--statement-lock-timeout',
    '0',
  ]);
  await atGate(t, pool, 2);
  victim.kill('SIGKILL');
  const killed = await victim.exited;
  t.is(killed.code, null, 'the process was killed');
  await gate.open();
  // The killed process's backends end with its connections (client_connection_check_interval
  // for the ones waiting at the gate); whatever they did, the database says it.
  t.true(await nothingLeft(pool), 'the killed run left no backend or advisory lock');

  const rerun = startOffloop([...args, '--json']);
  const result = await rerun.exitWithin(60_000);
  t.false(result.timedOut, 'the rerun finished');
  t.is(result.code, 0, result.stdout + result.stderr);
  t.deepEqual(await tenantState(pool), MIGRATED, 'every target migrated, the slow one once');
});
