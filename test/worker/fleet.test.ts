import test from '../helpers/limited-test.ts';
import {
  ConfigError,
  createFleet,
  FleetBehindError,
  FleetFailedError,
  type FleetEvent,
  type FleetUpResult,
} from '@offloop/worker';
import type { ExecutionContext } from 'ava';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createTestDatabase, databaseName, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { sql } from 'slonik';

const USERS =
  '-- migrate:up\ncreate table users (id int primary key);\n-- migrate:down\ndrop table users;\n';
const POSTS =
  '-- migrate:up\ncreate table posts (id int, user_id int references users);\n' +
  '-- migrate:down\ndrop table posts;\n';
/** Fails in the schemas that have a table `poison`, and only there. */
const POISONED =
  '-- migrate:up\n' +
  "do $$ begin if to_regclass('poison') is not null then raise exception 'poisoned'; end if; end $$;\n" +
  'create table comments (id int);\n-- migrate:down\ndrop table comments;\n';

/** A database with `count` tenant schemas, `tenant_1` ... */
async function tenants(t: ExecutionContext, count: number): Promise<string> {
  const url = await createTestDatabase(t);
  await withPool(url, async (pool) => {
    for (let index = 1; index <= count; index += 1)
      await pool.query(sql.unsafe`create schema ${sql.identifier([`tenant_${index}`])}`);
  });
  return url;
}

/** Put a table `poison` in each of `schemas`: POISONED fails there. */
async function poison(url: string, ...schemas: string[]): Promise<void> {
  await withPool(url, async (pool) => {
    for (const schema of schemas)
      await pool.query(sql.unsafe`create table ${sql.identifier([schema, 'poison'])} (id int)`);
  });
}

async function cure(url: string, ...schemas: string[]): Promise<void> {
  await withPool(url, async (pool) => {
    for (const schema of schemas)
      await pool.query(sql.unsafe`drop table ${sql.identifier([schema, 'poison'])}`);
  });
}

async function tablesIn(url: string, schema: string): Promise<string[]> {
  return withPool(url, async (pool) => {
    const rows = await pool.anyFirst(
      sql.unsafe`select tablename from pg_tables where schemaname = ${schema} order by tablename`,
    );
    return rows.map(String);
  });
}

async function failure(promise: Promise<unknown>): Promise<FleetFailedError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof FleetFailedError))
    throw new Error(`expected FLEET_FAILED, got ${String(error)}`);
  return error;
}

const outcomes = (result: FleetUpResult) =>
  Object.fromEntries(result.targets.map((target) => [target.target, target.outcome]));

test('a fleet migrates every schema a glob matches, in the schema, and a rerun finds them up to date without running them', async (t) => {
  const url = await tenants(t, 4);
  await withPool(url, (pool) => pool.query(sql.unsafe`create schema other`));
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260101000001_posts.sql': POSTS,
  });
  await using fleet = createFleet({ url, dir, schemas: 'tenant_*', workerIdleTimeout: 0 });
  const events: FleetEvent[] = [];
  const result = await fleet.up({ onProgress: (event) => events.push(event) });
  t.deepEqual(
    result.targets.map((target) => [target.target, target.outcome, target.applied.length]),
    [1, 2, 3, 4].map((index) => [`tenant_${index}`, 'applied', 2]),
  );
  t.true(result.targets[0]?.canary, 'the first target ran as the canary');
  for (const index of [1, 2, 3, 4])
    t.deepEqual(await tablesIn(url, `tenant_${index}`), [
      'offloop_migrations',
      'offloop_migrations_log',
      'posts',
      'users',
    ]);
  t.deepEqual(await tablesIn(url, 'other'), [], 'a schema the glob does not match is not a target');
  t.deepEqual(await tablesIn(url, 'public'), [], 'nothing lands in public');

  const again: FleetEvent[] = [];
  const rerun = await fleet.up({ onProgress: (event) => again.push(event) });
  t.deepEqual(rerun.counts, {
    total: 4,
    applied: 0,
    'up-to-date': 4,
    failed: 0,
    cancelled: 0,
    'not-run': 0,
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.false(
    again.some((event) => event.type === 'target:started'),
    'no target ran: the scan found them up to date',
  );

  const status = await fleet.status();
  t.is(status.counts['up-to-date'], 4);
  t.deepEqual(status.versions, [{ version: '20260101000001', count: 4 }]);
  t.is(status.latest, '20260101000001');
  await fleet.check();
});

test('status and check tell behind, failed and diverged targets apart', async (t) => {
  const url = await tenants(t, 3);
  const files = { '20260101000000_users.sql': USERS };
  const dir = await migrationsDir(t, files);
  {
    await using first = createFleet({ url, dir, schemas: 'tenant_*' });
    await first.up();
  }
  // tenant_2: the next migration fails there; tenant_3: an applied file was edited.
  await poison(url, 'tenant_2');
  const dir2 = await migrationsDir(t, { ...files, '20260101000001_comments.sql': POISONED });
  {
    await using second = createFleet({ url, dir: dir2, schemas: 'tenant_*', onError: 'continue' });
    const error = await failure(second.up());
    t.is(error.details.counts.failed, 1);
  }
  await withPool(url, (pool) =>
    pool.query(sql.unsafe`update tenant_3.offloop_migrations set checksum = 'edited'`),
  );
  await using fleet = createFleet({ url, dir: dir2, schemas: 'tenant_*' });
  const status = await fleet.status();
  t.deepEqual(
    status.targets.map((target) => [target.target, target.state, target.pendingCount]),
    [
      ['tenant_1', 'up-to-date', 0],
      ['tenant_2', 'failed', 1],
      ['tenant_3', 'diverged', 0],
    ],
  );
  t.regex(status.targets[1]?.lastError?.message ?? '', /poisoned/);
  const behind = await fleet.check().catch((error: unknown) => error);
  t.true(behind instanceof FleetBehindError);
  t.is((behind as FleetBehindError).code, 'FLEET_BEHIND');
});

test('a failed canary stops the fleet before any other target is touched', async (t) => {
  const url = await tenants(t, 4);
  await poison(url, 'tenant_3');
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260101000001_comments.sql': POISONED,
  });
  await using fleet = createFleet({ url, dir, schemas: 'tenant_*', canary: ['tenant_3'] });
  const error = await failure(fleet.up());
  t.is(error.details.stopped, 'canary-failed');
  t.deepEqual(outcomes(error.details), {
    tenant_1: 'not-run',
    tenant_2: 'not-run',
    tenant_3: 'failed',
    tenant_4: 'not-run',
  });
  t.is(error.details.targets[2]?.error?.code, 'MIGRATION_FAILED');
  t.deepEqual(
    error.details.targets[2]?.applied.map((migration) => migration.version),
    ['20260101000000'],
    'what the canary applied before its failure stays, and is reported',
  );
  for (const index of [1, 2, 4]) t.deepEqual(await tablesIn(url, `tenant_${index}`), []);
});

test('with onError continue, failures are listed and a rerun after fixing the file finishes them', async (t) => {
  const url = await tenants(t, 5);
  await poison(url, 'tenant_2', 'tenant_4');
  const files = { '20260101000000_users.sql': USERS, '20260101000001_comments.sql': POISONED };
  const dir = await migrationsDir(t, files);
  await using fleet = createFleet({ url, dir, schemas: 'tenant_*', onError: 'continue' });
  const error = await failure(fleet.up());
  t.is(error.details.stopped, null);
  t.deepEqual(outcomes(error.details), {
    tenant_1: 'applied',
    tenant_2: 'failed',
    tenant_3: 'applied',
    tenant_4: 'failed',
    tenant_5: 'applied',
  });
  t.regex(error.message, /2 failed/);

  // The fix: the file no longer fails on poisoned schemas (an edit of a file not applied there).
  await cure(url, 'tenant_2', 'tenant_4');
  const rerun = await fleet.up();
  t.deepEqual(outcomes(rerun), {
    tenant_1: 'up-to-date',
    tenant_2: 'applied',
    tenant_3: 'up-to-date',
    tenant_4: 'applied',
    tenant_5: 'up-to-date',
  });
  t.deepEqual(
    rerun.targets[1]?.applied.map((migration) => migration.version),
    ['20260101000001'],
    'the rerun applied only what was pending',
  );
});

test('maxFailures stops a continuing fleet after that many failures', async (t) => {
  const url = await tenants(t, 6);
  await poison(url, 'tenant_2', 'tenant_3', 'tenant_4', 'tenant_5', 'tenant_6');
  const dir = await migrationsDir(t, { '20260101000001_comments.sql': POISONED });
  await using fleet = createFleet({
    url,
    dir,
    schemas: 'tenant_*',
    onError: 'continue',
    maxFailures: 2,
    concurrency: 1,
  });
  const error = await failure(fleet.up());
  t.is(error.details.stopped, 'failures');
  t.is(error.details.counts.failed, 2);
  t.is(error.details.counts['not-run'], 3);
});

test('a maxFailures share counts against the targets to run, not those finished so far', async (t) => {
  const url = await tenants(t, 6);
  await poison(url, 'tenant_2', 'tenant_3', 'tenant_4', 'tenant_5', 'tenant_6');
  const dir = await migrationsDir(t, { '20260101000001_comments.sql': POISONED });
  await using fleet = createFleet({
    url,
    dir,
    schemas: 'tenant_*',
    onError: 'continue',
    maxFailures: '50%',
    concurrency: 1,
    canary: 0,
  });
  // Half of 6 may fail: the 4th failure stops it. (Counted against the finished targets, the
  // 2nd failure, 2 of 3, would have.)
  const error = await failure(fleet.up());
  t.is(error.details.stopped, 'failures');
  t.like(error.details.counts, { applied: 1, failed: 4, 'not-run': 1 });
});

test('an error in the files stops a continuing fleet at the first target: every target would fail the same way', async (t) => {
  const url = await tenants(t, 4);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': '-- migrate:up\ncreate tabel users (id int);\n',
  });
  await using fleet = createFleet({
    url,
    dir,
    schemas: 'tenant_*',
    onError: 'continue',
    concurrency: 1,
    canary: 0,
  });
  const error = await failure(fleet.up());
  t.is(error.details.stopped, 'files');
  t.like(error.details.counts, { failed: 1, 'not-run': 3 });
  t.is(error.details.targets[0]?.error?.code, 'SQL_SYNTAX_ERROR');
  t.regex(error.message, /the migration files are invalid/);
});

test('a canary name that is none of the targets stops the fleet before anything runs', async (t) => {
  const url = await tenants(t, 3);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using fleet = createFleet({ url, dir, schemas: 'tenant_*', canary: ['tenant_9'] });
  const error = await t.throwsAsync(fleet.up(), { instanceOf: ConfigError });
  t.regex(error.message, /canary: "tenant_9" is none of the fleet's 3 targets/);
  for (const schema of ['tenant_1', 'tenant_2', 'tenant_3'])
    t.deepEqual(await tablesIn(url, schema), [], `${schema} untouched`);
});

test('named canaries that are all up to date leave the first target to run as the canary', async (t) => {
  const url = await tenants(t, 3);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using first = createFleet({ url, dir, targets: [{ url, schema: 'tenant_2' }] });
  await first.up();
  await using fleet = createFleet({ url, dir, schemas: 'tenant_*', canary: ['tenant_2'] });
  const events: FleetEvent[] = [];
  await fleet.up({ onProgress: (event) => void events.push(event) });
  const planned = events.find((event) => event.type === 'fleet:planned');
  t.deepEqual(planned?.type === 'fleet:planned' ? planned.canaries : null, ['tenant_1']);
});

test('targets from a list span databases; a database that cannot be reached fails its target only', async (t) => {
  const first = await createTestDatabase(t);
  const second = await createTestDatabase(t);
  const missing = first.replace(databaseName(first), `${databaseName(first)}_missing`);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using fleet = createFleet({
    dir,
    targets: [{ url: first }, { url: second, schema: 'app' }, { url: missing }],
    onError: 'continue',
    canary: 0,
  });
  const status = await fleet.status();
  t.deepEqual(
    status.targets.map((target) => [target.target, target.state]),
    [
      [databaseName(first), 'behind'],
      [`${databaseName(second)}/app`, 'behind'],
      [`${databaseName(first)}_missing`, 'unreachable'],
    ],
  );
  const error = await failure(fleet.up());
  t.deepEqual(
    error.details.targets.map((target) => [target.outcome, target.error?.code ?? null]),
    [
      ['applied', null],
      ['applied', null],
      ['failed', 'DATABASE_UNAVAILABLE'],
    ],
  );
  t.deepEqual(await tablesIn(second, 'app'), [
    'offloop_migrations',
    'offloop_migrations_log',
    'users',
  ]);
  // Only the unreachable one is left: check says to look at it, not to run up.
  const behind = await fleet.check().then(
    () => null,
    (caught: unknown) => caught,
  );
  t.true(behind instanceof FleetBehindError);
  t.regex(
    String((behind as Error).message),
    /1 unreachable\); the unreachable target could not be read/,
  );
  t.notRegex(String((behind as Error).message), /fleet up/);
});

test('a cancelled fleet stops dispatching and cancels the targets in flight; each stays consistent', async (t) => {
  const url = await tenants(t, 6);
  const slow =
    '-- migrate:up\ncreate table slow (id int);\nselect pg_sleep(30);\n-- migrate:down\ndrop table slow;\n';
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260101000001_slow.sql': slow,
  });
  await using fleet = createFleet({ url, dir, schemas: 'tenant_*', canary: 0, concurrency: 2 });
  const controller = new AbortController();
  const started: string[] = [];
  const running = fleet.up({
    signal: controller.signal,
    onProgress: (event) => {
      if (event.type === 'target:started') started.push(event.target);
    },
  });
  await withPool(url, async (pool) => {
    for (let tries = 0; tries < 200; tries += 1) {
      const sleeping = await pool.oneFirst(
        sql.unsafe`select count(*)::int from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()`,
      );
      if (Number(sleeping) >= 2) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  controller.abort();
  const error = await failure(running);
  t.is(error.details.stopped, 'aborted');
  t.is(error.details.counts.cancelled, 2);
  t.is(error.details.counts['not-run'], 4);
  t.is(started.length, 2);
  for (const target of error.details.targets.filter((each) => each.outcome === 'cancelled')) {
    t.is(target.error?.code, 'RUN_ABORTED');
    // The cancelled migration rolled back: users stays, slow is gone.
    t.deepEqual(await tablesIn(url, target.schema), [
      'offloop_migrations',
      'offloop_migrations_log',
      'users',
    ]);
  }
  // A cancelled target is behind, not failed: nothing about it needs fixing.
  const status = await fleet.status();
  t.like(status.counts, { behind: 6, failed: 0 });
});

test('maxConnectionsPerServer bounds the targets in flight on one server', async (t) => {
  const url = await tenants(t, 6);
  const nap = '-- migrate:up\nselect pg_sleep(0.3);\n-- migrate:down\nselect 1;\n';
  const dir = await migrationsDir(t, { '20260101000000_nap.sql': nap });
  await using fleet = createFleet({
    url,
    dir,
    schemas: 'tenant_*',
    canary: 0,
    concurrency: 6,
    maxConnectionsPerServer: 4,
  });
  let most = 0;
  let inFlight = 0;
  await fleet.up({
    onProgress: (event) => {
      if (event.type === 'target:started') most = Math.max(most, (inFlight += 1));
      if (event.type === 'target:finished') inFlight -= 1;
    },
  });
  t.is(most, 2, 'two targets at a time: each takes two connections');
});

test('a serial migration runs on one target at a time across the fleet; the others run at once', async (t) => {
  const url = await tenants(t, 4);
  await withPool(url, (pool) =>
    pool.query(
      sql.unsafe`create table public.runs (file text, schema text, started timestamptz, ended timestamptz)`,
    ),
  );
  const body = (file: string) =>
    `insert into public.runs values ('${file}', current_schema(), clock_timestamp(), null);\n` +
    'select pg_sleep(0.3);\n' +
    `update public.runs set ended = clock_timestamp() where file = '${file}' and schema = current_schema();\n`;
  const dir = await migrationsDir(t, {
    '20260101000000_parallel.sql': `-- migrate:up\n${body('parallel')}`,
    '20260101000001_backfill.sql': `-- migrate:up serial:true\n${body('backfill')}`,
  });
  await using fleet = createFleet({ url, dir, schemas: 'tenant_*', canary: 0, concurrency: 4 });
  await fleet.up();
  const overlaps = (file: string) =>
    withPool(url, (pool) =>
      pool.oneFirst(sql.unsafe`
        select count(*)::int from public.runs a join public.runs b
          on a.file = b.file and a.schema < b.schema
          and a.started < b.ended and b.started < a.ended
        where a.file = ${file}`),
    );
  t.is(await overlaps('backfill'), 0, 'no two targets ran the serial migration at once');
  t.true(Number(await overlaps('parallel')) > 0, 'the other migration ran on several at once');
});

test('many targets in flight on one thread raise no listener warning in the host', async (t) => {
  const url = await tenants(t, 14);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => {
    if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning);
  };
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  await using fleet = createFleet({
    url,
    dir,
    schemas: 'tenant_*',
    threads: 1,
    concurrency: 14,
    workerIdleTimeout: 0,
  });
  const result = await fleet.up();
  t.is(result.counts.applied, 14);
  // Node emits the warning on the next tick after the listener that crossed the limit.
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(
    warnings.map((warning) => warning.message),
    [],
  );
});

test('the scan reads ledgers in chunks: a failed schema past the first chunk is found', async (t) => {
  // More schemas than one scan query reads (50, engine/fleet/scan.ts): the answer spans chunks.
  const url = await tenants(t, 60);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using fleet = createFleet({
    url,
    dir,
    schemas: 'tenant_*',
    onError: 'continue',
    workerIdleTimeout: 0,
  });
  t.is((await fleet.up()).counts.applied, 60);
  await writeFile(path.join(dir, '20260101000001_comments.sql'), POISONED);
  await poison(url, 'tenant_57');
  const error = await failure(fleet.up());
  t.deepEqual(
    Object.entries(outcomes(error.details)).filter(([, outcome]) => outcome === 'failed'),
    [['tenant_57', 'failed']],
  );
  const status = await fleet.status();
  t.is(status.counts['up-to-date'], 59, 'every other schema, in both chunks');
  t.is(status.targets.find((target) => target.target === 'tenant_57')?.state, 'failed');
  const rerun = await failure(fleet.up());
  t.is(rerun.details.counts['up-to-date'], 59, 'a rerun skips the 59, and tries tenant_57 again');
});
