/**
 * A fleet run shared by several hosts through a pg-boss queue, as real processes: `fleet up
 * --queue` sends one job per tenant schema and follows them; three `fleet work` hosts take them;
 * one host is killed (SIGKILL) midway. Every target must end migrated, each migration applied
 * exactly once, and the follower must report every target applied.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import type { ExecutionContext } from 'ava';
import { LIBPQ_ENVIRONMENT } from '@offloop/core';
import { sql } from 'slonik';
import { BIN } from '../helpers/cli.ts';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import test from '../helpers/limited-test.ts';
import { withoutRowData } from '../../packages/cli/src/fleet/queue-worker.ts';

const TENANTS = 30;
const VERSIONS = ['20250101000000', '20250101000001', '20250101000002'];

/**
 * Each migration: `create table if not exists` (the table is in public until `schema` sets the
 * search path), a row that says it ran, and a pause so that a run takes some time.
 */
function migration(version: string): string {
  return (
    '-- migrate:up\n' +
    'create table if not exists public.fleet_log (id serial primary key, version text not null);\n' +
    `insert into public.fleet_log (version) values ('${version}');\n` +
    'select pg_sleep(0.15);\n'
  );
}

/** A running `offloop` process: its output so far, and its end. */
type Running = {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

function start(
  t: ExecutionContext,
  args: readonly string[],
  extraEnv: Readonly<Record<string, string>> = {},
): Running {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const name of ['DATABASE_URL', ...LIBPQ_ENVIRONMENT]) delete env[name];
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: tmpdir(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output, exit };
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The `application_name` of the host that is killed. */
const VICTIM = 'offloop-test-victim';

async function untilAsync(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether the victim's connections hold a migration lock (exclusive; the work lock is shared). */
function victimHoldsTarget(url: string): Promise<boolean> {
  return withPool(url, async (pool) => {
    const held = await pool.oneFirst(sql.unsafe`
      select count(*)::int from pg_locks l join pg_stat_activity a using (pid)
      where l.locktype = 'advisory' and l.mode = 'ExclusiveLock' and l.granted
        and a.application_name like ${`${VICTIM}%`}`);
    return Number(held) > 0;
  });
}

type FollowerJson = {
  run: string;
  counts: Record<string, number>;
  targets: { target: string; outcome: string; applied: { version: string }[] }[];
};

test('hosts share a fleet run through the queue; a host killed midway loses nothing', async (t) => {
  const [control, target] = await Promise.all([createTestDatabase(t), createTestDatabase(t)]);
  const schemas = Array.from({ length: TENANTS }, (_, i) => `tenant_${String(i).padStart(2, '0')}`);
  await withPool(target, async (pool) => {
    // Made here once: concurrent `create table if not exists` of one table can fail (23505), and
    // such a retry would hide whether the killed host's jobs were the ones retried.
    await pool.query(
      sql.unsafe`create table public.fleet_log (id serial primary key, version text not null)`,
    );
    for (const schema of schemas)
      await pool.query(sql.unsafe`create schema ${sql.identifier([schema])}`);
  });
  const dir = await migrationsDir(
    t,
    Object.fromEntries(
      VERSIONS.map((version, i) => [`${version}_step${i}.sql`, migration(version)]),
    ),
  );

  const follower = start(t, [
    'fleet',
    'up',
    '--queue',
    control,
    '--url',
    target,
    '--schemas',
    'tenant_*',
    '--dir',
    dir,
    '--heartbeat',
    '10s',
    '--retry-delay',
    '1s',
    '--json',
  ]);
  await until('the jobs to be queued', () =>
    /queued 30 of 30 targets/.test(follower.output.stderr),
  );

  // Jobs carry no passwords: each host finds the target's as libpq does, here in PGPASSWORD (the
  // embedded PostgreSQL has one).
  const password = decodeURIComponent(new URL(target).password);
  const secrets = password === '' ? {} : { PGPASSWORD: password };
  const host = (env: Readonly<Record<string, string>> = {}) =>
    start(
      t,
      [
        'fleet',
        'work',
        '--queue',
        control,
        '--dir',
        dir,
        '--concurrency',
        '2',
        '--exit-when-idle',
        '--idle-time',
        '3s',
      ],
      { ...secrets, ...env },
    );
  // The victim starts alone (the others, fetching two jobs at a time and again at once, could
  // otherwise empty the queue before it fetched any) and is killed midway, while it holds a
  // target: its connections carry PGAPPNAME, and a target in flight holds its migration lock.
  const victim = host({ PGAPPNAME: VICTIM });
  await until('the first host to finish a target', () =>
    /tenant_\d+: applied/.test(victim.output.stderr),
  );
  const survivors = [host(), host()];
  await untilAsync('the first host to hold a target', () => victimHoldsTarget(target));
  victim.child.kill('SIGKILL');
  t.is((await victim.exit).signal, 'SIGKILL');

  const followed = await follower.exit;
  t.is(followed.code, 0, follower.output.stderr);
  const result = JSON.parse(follower.output.stdout) as FollowerJson;
  t.is(result.counts['applied'], TENANTS);
  t.is(result.counts['failed'], 0);
  t.deepEqual(result.targets.map((each) => each.target).sort(), schemas);
  for (const each of result.targets) t.is(each.outcome, 'applied', each.target);
  for (const host of survivors) t.is((await host.exit).code, 0, host.output.stderr);

  await withPool(target, async (pool) => {
    // Each migration ran exactly once per target: its ledger row, and its row in fleet_log
    // (written in the same transaction).
    for (const schema of schemas) {
      const versions = await pool.anyFirst(
        sql.unsafe`select version from ${sql.identifier([schema, 'offloop_migrations'])} order by version`,
      );
      t.deepEqual(versions, VERSIONS, schema);
    }
    const ran = await pool.any(
      sql.unsafe`select version, count(*)::int as n from public.fleet_log group by version order by version`,
    );
    t.deepEqual(
      ran,
      VERSIONS.map((version) => ({ version, n: TENANTS })),
    );
  });
  await withPool(control, async (pool) => {
    // The killed host's jobs came back and were done by another: retried, none dead-lettered.
    const retried = await pool.oneFirst(
      sql.unsafe`select count(*)::int from pgboss.job where name = 'offloop-fleet' and retry_count > 0`,
    );
    t.true(Number(retried) >= 1, 'no job was retried: the killed host held none');
    const dead = await pool.oneFirst(
      sql.unsafe`select count(*)::int from pgboss.job where name = 'offloop-fleet.dead'`,
    );
    t.is(dead, 0);
  });
});

test("the queue keeps a target's result without PostgreSQL's DETAIL, which may quote row values", (t) => {
  const failed = {
    target: 'tenant_1',
    database: 'app',
    schema: 'tenant_1',
    outcome: 'failed' as const,
    applied: [],
    version: null,
    durationMs: 5,
    canary: false,
    error: {
      code: 'MIGRATION_FAILED' as const,
      message: 'duplicate key value violates unique constraint "users_email_key"',
      sqlstate: '23505',
      detail: 'Key (email)=(ada@example.com) already exists.',
      hint: null,
    },
  };
  const stored = withoutRowData(failed);
  t.false(JSON.stringify(stored).includes('ada@example.com'));
  t.deepEqual(stored.error, {
    code: 'MIGRATION_FAILED',
    message: failed.error.message,
    sqlstate: '23505',
    hint: null,
  });
  t.is(failed.error.detail, 'Key (email)=(ada@example.com) already exists.', 'the host keeps it');
  const applied = { ...failed, outcome: 'applied' as const, error: null };
  t.is(withoutRowData(applied), applied);
});
