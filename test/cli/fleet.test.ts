/**
 * `offloop fleet up`, `status` and `check` end to end: the CLI spawned as a real process against a
 * fresh database per test, holding tenant schemas (or, for `--targets`, several databases).
 *
 * One test expects a migration's objects in its target's schema (`schema` puts the target's
 * schema first on the search_path): "a failed canary ...", marked below. The others hold
 * whichever schema unqualified names land in.
 */
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { EXIT_CODES } from 'offloop';
import { sql } from 'slonik';
import test from '../helpers/limited-test.ts';
import { BIN, offloop, type Result } from '../helpers/cli.ts';
import { createTestDatabase, databaseName, withPool } from '../helpers/database.ts';
import { eventually } from '../helpers/eventually.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const ITEMS = '20260101000000_items.sql';
const NAMES = '20260102000000_names.sql';
// Either way: whether unqualified names land in the target's schema or in one shared schema.
const FILES = {
  [ITEMS]: '-- migrate:up\ncreate table if not exists items (id int primary key);\n',
  [NAMES]: '-- migrate:up\nalter table items add column if not exists name text;\n',
};
const TENANTS = ['tenant_1', 'tenant_2', 'tenant_3', 'tenant_4', 'tenant_5'];

type TargetJson = {
  target: string;
  database: string;
  schema: string;
  outcome: string;
  applied: { version: string }[];
  version: string | null;
  canary: boolean;
  durationMs: number;
  error: {
    code: string;
    message: string;
    sqlstate?: string | null;
    detail?: string | null;
    hint?: string | null;
  } | null;
};
type UpJson = {
  ok: boolean;
  code?: string;
  error?: { code: string; message: string };
  targets: TargetJson[];
  counts: Record<string, number>;
  stopped: string | null;
  durationMs: number;
};
type StatusJson = {
  ok: boolean;
  code?: string;
  targets: { target: string; state: string; version: string | null; pendingCount: number }[];
  latest: string | null;
  versions: { version: string | null; count: number }[];
  counts: Record<string, number>;
};

/** A database with the given schemas (and, in `other`, a schema no glob of the tests matches). */
async function tenantDatabase(t: ExecutionContext, schemas = TENANTS): Promise<string> {
  const url = await createTestDatabase(t);
  await withPool(url, async (pool) => {
    for (const schema of [...schemas, 'other'])
      await pool.query(sql.unsafe`create schema ${sql.identifier([schema])}`);
  });
  return url;
}

function json<T>(t: ExecutionContext, result: Result): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch (error) {
    t.fail(`stdout is not one JSON document: ${(error as Error).message}\n${result.stdout}`);
    throw error;
  }
}

/** The versions in `schema`'s version table, or null when it has none. */
async function ledger(url: string, schema: string): Promise<string[] | null> {
  return withPool(url, async (pool) => {
    const exists = await pool.oneFirst(
      sql.unsafe`select to_regclass(${`${schema}.offloop_migrations`}) is not null`,
    );
    if (exists !== true) return null;
    const rows = await pool.anyFirst(
      sql.unsafe`select version from ${sql.identifier([schema, 'offloop_migrations'])} order by version`,
    );
    return rows.map(String);
  });
}

async function tableIn(url: string, schema: string, table: string): Promise<boolean> {
  return withPool(url, async (pool) =>
    pool.oneFirst(sql.unsafe`select to_regclass(${`${schema}.${table}`}) is not null`),
  ) as Promise<boolean>;
}

const fleet = (args: readonly string[]) => offloop(['fleet', ...args]);

test("fleet up --schemas 'tenant_*' migrates every tenant schema, lists each in --json, and a rerun finds them up to date", async (t) => {
  const url = await tenantDatabase(t);
  const dir = await migrationsDir(t, FILES);

  const up = await fleet(['up', '--url', url, '--dir', dir, '--schemas', 'tenant_*', '--json']);
  t.is(up.code, 0, up.stderr);
  const result = json<UpJson>(t, up);
  t.true(result.ok);
  t.is(result.stopped, null);
  t.deepEqual(
    result.targets.map((target) => target.target),
    TENANTS,
    'every schema the glob matches, in order, and no other',
  );
  for (const target of result.targets) {
    t.like(target, { schema: target.target, outcome: 'applied', version: '20260102000000' });
    t.deepEqual(
      target.applied.map((migration) => migration.version),
      ['20260101000000', '20260102000000'],
    );
  }
  t.like(result.counts, { total: 5, applied: 5, failed: 0, 'not-run': 0 });
  t.is(result.targets.filter((target) => target.canary).length, 1, 'one canary by default');
  for (const schema of TENANTS)
    t.deepEqual(await ledger(url, schema), ['20260101000000', '20260102000000'], schema);
  t.is(await ledger(url, 'other'), null, 'a schema the glob does not match is untouched');

  // Again, as a person reads it: nothing runs.
  const again = await fleet(['up', '--url', url, '--dir', dir, '--schemas', 'tenant_*']);
  t.is(again.code, 0, again.stderr);
  t.regex(
    again.stdout,
    /^Fleet: 5 targets in \S+ m?s: applied 0, up to date 5, failed 0, not run 0; all at 20260102000000\n$/,
  );
  t.regex(again.stderr, /^fleet: 5 targets, all up to date$/m);
  t.false(again.stderr.includes('✓'), 'no target ran');
});

test('without a terminal, fleet up prints the plan, a line per target that applied something, and the summary', async (t) => {
  const url = await tenantDatabase(t, ['tenant_1', 'tenant_2', 'tenant_3']);
  const dir = await migrationsDir(t, { [ITEMS]: FILES[ITEMS] });
  const up = await fleet(['up', '--url', url, '--dir', dir, '--schemas', 'tenant_*']);
  t.is(up.code, 0, up.stderr);
  t.regex(up.stderr, /^fleet: 3 targets: 0 up to date, 3 to run; canary first: tenant_1$/m);
  t.regex(up.stderr, /^✓ canary tenant_1: applied 1 migration in \S+ m?s, now at 20260101000000$/m);
  for (const schema of ['tenant_2', 'tenant_3'])
    t.regex(up.stderr, new RegExp(`^✓ ${schema}: applied 1 migration in `, 'm'));
  t.false(up.stderr.includes('\r'), 'no bar redrawn in place');
  t.regex(up.stdout, /^Fleet: 3 targets in .*: applied 3, up to date 0, failed 0, not run 0/);
});

test('fleet status counts the targets at each version; fleet check exits 8 while one is behind and 0 after fleet up', async (t) => {
  const url = await tenantDatabase(t);
  const dir = await migrationsDir(t, { [ITEMS]: FILES[ITEMS] });
  const where = ['--url', url, '--dir', dir, '--schemas', 'tenant_*'];

  const none = json<StatusJson>(t, await fleet(['status', ...where, '--json']));
  t.like(none.counts, { total: 5, behind: 5, 'up-to-date': 0 });
  t.deepEqual(none.versions, [{ version: null, count: 5 }]);

  t.is((await fleet(['up', ...where])).code, 0);
  await writeFile(join(dir, NAMES), FILES[NAMES]);

  const status = await fleet(['status', ...where, '--json']);
  t.is(status.code, 0, status.stderr);
  const behind = json<StatusJson>(t, status);
  t.is(behind.latest, '20260102000000');
  t.deepEqual(behind.versions, [{ version: '20260101000000', count: 5 }]);
  t.like(behind.counts, { total: 5, behind: 5, 'up-to-date': 0, failed: 0 });
  t.true(behind.targets.every((target) => target.pendingCount === 1));

  const human = await fleet(['status', ...where]);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /^20260101000000\s+5$/m);
  t.regex(human.stdout, /^0 up to date, 5 behind, 0 failed, 0 diverged, 0 unreachable\.$/m);
  t.regex(human.stdout, /^Behind \(5\): tenant_1 \(1 pending\), tenant_2 \(1 pending\)/m);

  const check = await fleet(['check', ...where]);
  t.is(check.code, EXIT_CODES.FLEET_BEHIND, check.stderr);
  t.is(check.code, 8);
  t.regex(check.stdout, /^5 of 5 targets are not up to date:$/m);
  t.regex(check.stderr, /^error\[FLEET_BEHIND\]: 5 of 5 targets are not up to date/);
  const checkJson = json<StatusJson>(t, await fleet(['check', ...where, '--json']));
  t.like(checkJson, { ok: false, code: 'FLEET_BEHIND' });
  t.like(checkJson.counts, { behind: 5 });

  t.is((await fleet(['up', ...where])).code, 0);
  const ok = await fleet(['check', ...where]);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, 'OK: all 5 targets are up to date at 20260102000000.\n');
  const after = json<StatusJson>(t, await fleet(['status', ...where, '--json']));
  t.like(after.counts, { total: 5, 'up-to-date': 5, behind: 0 });
  t.deepEqual(after.versions, [{ version: '20260102000000', count: 5 }]);
});

// Needs `schema` to put the target's schema first on the search_path: the canary's conflict is
// a table in its own schema.
test('a failed canary stops the fleet with exit 4 before any other target is touched; a rerun after the fix finishes it', async (t) => {
  const url = await tenantDatabase(t);
  await withPool(url, (pool) => pool.query(sql.unsafe`create table tenant_1.items (id int)`));
  const dir = await migrationsDir(t, {
    [ITEMS]: '-- migrate:up\ncreate table items (id int primary key);\n',
  });
  const where = ['--url', url, '--dir', dir, '--schemas', 'tenant_*'];

  const human = await fleet(['up', ...where]);
  t.is(human.code, EXIT_CODES.FLEET_FAILED, human.stderr);
  t.is(human.code, 4);
  t.regex(human.stderr, /^✗ canary tenant_1: MIGRATION_FAILED: .*already exists/m);
  t.regex(human.stderr, /^fleet: the canary failed: stopping; no other target is touched$/m);
  t.regex(human.stderr, /^error\[FLEET_FAILED\]: The fleet did not finish: the canary failed/m);
  t.regex(human.stdout, /applied 0, up to date 0, failed 1, not run 4/);

  // A rerun picks a canary whose last run did not fail: name the failing one to see it fail first.
  const up = await fleet(['up', ...where, '--canary', 'tenant_1', '--json']);
  t.is(up.code, 4);
  const result = json<UpJson>(t, up);
  t.like(result, { ok: false, code: 'FLEET_FAILED', stopped: 'canary-failed' });
  t.like(result.error, { code: 'FLEET_FAILED' });
  t.like(result.targets[0], {
    target: 'tenant_1',
    canary: true,
    outcome: 'failed',
    error: { code: 'MIGRATION_FAILED' },
  });
  t.deepEqual(
    result.targets.slice(1).map((target) => target.outcome),
    ['not-run', 'not-run', 'not-run', 'not-run'],
  );
  for (const schema of TENANTS.slice(1)) {
    t.is(await ledger(url, schema), null, `${schema} was not touched`);
    t.false(await tableIn(url, schema, 'items'), schema);
  }

  await withPool(url, (pool) => pool.query(sql.unsafe`drop table tenant_1.items`));
  const fixed = await fleet(['up', ...where, '--json']);
  t.is(fixed.code, 0, fixed.stdout);
  t.like(json<UpJson>(t, fixed).counts, { applied: 5, failed: 0 });
  for (const schema of TENANTS) t.true(await tableIn(url, schema, 'items'), schema);
});

test("a target's failure shows PostgreSQL's detail and hint, on the terminal and in --json", async (t) => {
  const url = await tenantDatabase(t, ['tenant_1']);
  const dir = await migrationsDir(t, {
    [ITEMS]:
      '-- migrate:up\ncreate table items (id int primary key);\ninsert into items values (1), (1);\n',
  });
  const where = ['--url', url, '--dir', dir, '--schemas', 'tenant_*'];
  const human = await fleet(['up', ...where]);
  t.is(human.code, 4, human.stderr);
  t.regex(
    human.stderr,
    /^✗ canary tenant_1: MIGRATION_FAILED: .*duplicate key value.*\n {4}detail: Key \(id\)=\(1\) already exists\.$/m,
  );
  const up = await fleet(['up', ...where, '--json']);
  t.like(json<UpJson>(t, up).targets[0], {
    outcome: 'failed',
    error: { code: 'MIGRATION_FAILED', sqlstate: '23505', detail: 'Key (id)=(1) already exists.' },
  });
});

test('--on-error continue lists every failure, --max-failures stops early, and a rerun after fixing the file finishes every target', async (t) => {
  const url = await tenantDatabase(t);
  const dir = await migrationsDir(t, {
    [ITEMS]: FILES[ITEMS],
    [NAMES]: '-- migrate:up\nselect 1/0;\n',
  });
  const where = ['--url', url, '--dir', dir, '--schemas', 'tenant_*', '--canary', '0'];

  // One at a time, so that which ran before the limit is known.
  const limited = await fleet([
    'up',
    ...where,
    '--on-error',
    'continue',
    '--max-failures',
    '2',
    '--concurrency',
    '1',
    '--json',
  ]);
  t.is(limited.code, 4, limited.stderr);
  const first = json<UpJson>(t, limited);
  t.like(first, { ok: false, stopped: 'failures' });
  t.like(first.counts, { failed: 2, 'not-run': 3 });

  const all = await fleet(['up', ...where, '--on-error', 'continue']);
  t.is(all.code, 4, all.stderr);
  for (const schema of TENANTS)
    t.regex(
      all.stderr,
      new RegExp(`^✗ ${schema}: MIGRATION_FAILED: .*division by zero`, 'm'),
      schema,
    );
  t.regex(all.stdout, /applied 0, up to date 0, failed 5, not run 0/);
  // What ran before the failure stays: the first migration, everywhere.
  for (const schema of TENANTS) t.deepEqual(await ledger(url, schema), ['20260101000000'], schema);

  const status = json<StatusJson>(t, await fleet(['status', ...where.slice(0, -2), '--json']));
  t.like(status.counts, { failed: 5 });
  const human = await fleet(['status', ...where.slice(0, -2)]);
  t.regex(human.stdout, /^Failed \(5\):$/m);
  // Where the target is, then the migration that failed.
  t.regex(
    human.stdout,
    /^ {2}tenant_1 at 20260101000000, 20260102000000 failed: .*division by zero/m,
  );

  await writeFile(join(dir, NAMES), '-- migrate:up\nselect 1;\n');
  const fixed = await fleet(['up', ...where, '--on-error', 'continue', '--json']);
  t.is(fixed.code, 0, fixed.stdout);
  const result = json<UpJson>(t, fixed);
  t.true(result.ok);
  for (const target of result.targets)
    t.deepEqual(
      target.applied.map((migration) => migration.version),
      ['20260102000000'],
      target.target,
    );
});

test('--targets <file> migrates the databases it lists, comments and blank lines skipped', async (t) => {
  const [first, second] = await Promise.all([createTestDatabase(t), createTestDatabase(t)]);
  const dir = await migrationsDir(t, FILES);
  const listing = await migrationsDir(t, {
    'targets.txt': `# the tenants' databases\n${first}\n\n   ${second}   public\n`,
  });
  const file = join(listing, 'targets.txt');

  const up = await fleet(['up', '--targets', file, '--dir', dir, '--json']);
  t.is(up.code, 0, up.stderr);
  const result = json<UpJson>(t, up);
  t.deepEqual(
    result.targets.map((target) => [target.target, target.outcome]),
    [
      [databaseName(first), 'applied'],
      [databaseName(second), 'applied'],
    ],
  );
  for (const url of [first, second]) t.true(await tableIn(url, 'public', 'items'), url);

  const check = await fleet(['check', '--targets', file, '--dir', dir]);
  t.is(check.code, 0, check.stderr);
  t.is(check.stdout, 'OK: all 2 targets are up to date at 20260102000000.\n');

  await rm(file);
  const missing = await fleet(['status', '--targets', file, '--dir', dir]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--targets: cannot read .*targets\.txt: no such file/);
});

test('a glob that matches no schema says so, with the database it looked in; up and check fail unless --allow-empty', async (t) => {
  const url = await tenantDatabase(t);
  const dir = await migrationsDir(t, FILES);
  const where = ['--url', url, '--dir', dir, '--schemas', 'tenat_*'];
  const said = new RegExp(
    `No targets found: no schema of postgres://\\S+/${databaseName(url)} matches --schemas 'tenat_\\*'\\.$`,
    'm',
  );
  const status = await fleet(['status', ...where]);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, said);
  // A deploy's gate must not pass on a mistyped glob.
  for (const command of ['up', 'check']) {
    const result = await fleet([command, ...where]);
    t.is(result.code, 2, `${command}: ${result.stderr}`);
    t.regex(result.stdout, said, command);
    t.regex(result.stderr, /FLEET_EMPTY/, command);
    t.regex(result.stderr, /--allow-empty/, command);
    const allowed = await fleet([command, ...where, '--allow-empty']);
    t.is(allowed.code, 0, `${command} --allow-empty: ${allowed.stderr}`);
    t.regex(allowed.stdout, said, command);
  }
  const asJson = await fleet(['check', ...where, '--json']);
  t.is(asJson.code, 2);
  t.like(JSON.parse(asJson.stdout), { ok: false, code: 'FLEET_EMPTY' });
});

test('a --targets file with bad lines names every one of them before anything runs', async (t) => {
  const listing = await migrationsDir(t, {
    'targets.txt': [
      '# tenants',
      'postgres://app@127.0.0.1:1/tenant_a',
      'tenant_b',
      'postgres://app@127.0.0.1:1/tenant_c tenant initech',
      'postgres://app@127.0.0.1:1/tenant_d tenant-d',
      ...Array.from({ length: 25 }, (_, index) => `bad_${index}`),
    ].join('\n'),
  });
  const result = await fleet(['status', '--targets', join(listing, 'targets.txt')]);
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, /^ {2}- .*targets\.txt:3: \(unparseable URL\): must be a postgres:\/\//m);
  t.regex(result.stderr, /^ {2}- .*targets\.txt:4: a line is a URL and, optionally, a schema/m);
  t.regex(
    result.stderr,
    /^ {2}- .*targets\.txt:5: "tenant-d" is not a plain PostgreSQL identifier/m,
  );
  t.regex(result.stderr, /^ {2}- .*targets\.txt: and 8 more bad lines \(28 in all\)$/m);
  t.is(result.stderr.match(/^ {2}- /gm)?.length, 21, result.stderr);
});

test('the fleet flags are checked before anything runs, every problem at once, on its flag', async (t) => {
  const result = await fleet([
    'up',
    '--url',
    'postgres://nobody@127.0.0.1:1/none',
    '--schemas',
    'tenant_*',
    '--concurrency',
    'many',
    '--on-error',
    'retry',
    '--timeout',
    'soon',
  ]);
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, /^error\[CONFIG_INVALID\]: invalid configuration, 3 problems:/);
  t.regex(result.stderr, /^ {2}- --concurrency: .*"many"/m);
  t.regex(result.stderr, /^ {2}- --on-error: /m);
  t.regex(result.stderr, /^ {2}- --timeout: not a duration/m);

  const policy = await fleet([
    'up',
    '--url',
    'postgres://nobody@127.0.0.1:1/none',
    '--schemas',
    'tenant_*',
    '--max-failures',
    '10%',
  ]);
  t.is(policy.code, 2, policy.stderr);
  t.regex(policy.stderr, /^ {2}- --max-failures: only applies with onError "continue"/m);

  const none = await fleet(['check', '--url', 'postgres://nobody@127.0.0.1:1/none']);
  t.is(none.code, 2);
  t.regex(
    none.stderr,
    /a fleet needs targets: --schemas <glob>, --targets <file> or --targets-query/,
  );

  const group = await offloop(['fleet', 'down']);
  t.is(group.code, 2);
  t.regex(group.stderr, /unknown command; expected one of up, status, check/);
  t.regex(group.stderr, /Run offloop fleet --help for usage\./);
});

test('SIGINT during fleet up cancels the targets in flight, rolls them back and exits 130', async (t) => {
  const url = await tenantDatabase(t, ['tenant_1', 'tenant_2', 'tenant_3']);
  const dir = await migrationsDir(t, {
    [ITEMS]: FILES[ITEMS],
    '20260103000000_slow.sql': '-- migrate:up\ncreate table slow (id int);\nselect pg_sleep(60);\n',
  });
  const child = spawn(
    process.execPath,
    [BIN, 'fleet', 'up', '--url', url, '--dir', dir, '--schemas', 'tenant_*', '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  // The canary is asleep in its migration.
  const asleep = await eventually(
    () =>
      withPool(url, (pool) =>
        pool.oneFirst(
          sql.unsafe`select count(*) > 0 from pg_stat_activity
                     where datname = ${databaseName(url)} and query like '%pg_sleep(60)%'
                       and pid <> pg_backend_pid()`,
        ),
      ) as Promise<boolean>,
    30_000,
    100,
  );
  t.true(asleep, `the canary never reached its slow migration:\n${stderr}`);
  child.kill('SIGINT');
  t.is(await exited, 130, stderr);
  t.regex(stderr, /interrupted; cancelling the run/);
  const result = json<UpJson>(t, { code: 130, stdout, stderr });
  t.like(result, { ok: false, code: 'FLEET_FAILED', stopped: 'aborted' });
  // Whole milliseconds, as the docs show them, not 195.4132729999999.
  for (const duration of [result.durationMs, ...result.targets.map((each) => each.durationMs)])
    t.true(Number.isInteger(duration), String(duration));
  // Nothing failed: the message says to run it again, not to fix a cause there is none of.
  t.regex(result.error?.message ?? '', /it was cancelled .*\. Run it again to finish: it skips/);
  t.notRegex(result.error?.message ?? '', /Fix the cause/);
  t.like(result.targets[0], { outcome: 'cancelled', canary: true });
  t.like(result.counts, { cancelled: 1, 'not-run': 2 });
  t.deepEqual(await ledger(url, 'tenant_1'), ['20260101000000'], 'what committed before stays');
  t.false(await tableIn(url, 'tenant_1', 'slow'), 'the cancelled migration rolled back');
  t.false(await tableIn(url, 'public', 'slow'), 'the cancelled migration rolled back');
});
