/**
 * The whole lifecycle from the command line (issue 3): down, redo, stamp, history, repair, check,
 * plan, offline SQL, out-of-order and single-transaction runs. Each test spawns the real binary
 * against a fresh database; the help and docs checks run in-process, to keep processes few.
 */
import type { ExecutionContext } from 'ava';
import test from '../helpers/limited-test.ts';
import {
  chmod,
  mkdtemp,
  readFile,
  rm,
  stat,
  unlink,
  writeFile,
  appendFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '@offloop/core';
import { COMMANDS, EXIT_CODES, EXIT_OK, run } from 'offloop';
import { sql } from 'slonik';
import { z } from 'zod';
import { OPTION_FLAGS } from '../../packages/cli/src/flags/database-options.ts';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { exec, offloop } from '../helpers/cli.ts';

const DOCS = fileURLToPath(new URL('../../docs/cli.md', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const PSQL = '/usr/bin/psql';

const USERS = '20260101000000_users.sql';
const POSTS = '20260102000000_posts.sql';
const INDEX = '20260103000000_posts_index.sql';
const FILES = {
  [USERS]:
    '-- migrate:up\ncreate table users (id int primary key, email text not null);\ncreate unique index users_email on users (email);\n-- migrate:down\ndrop table users;\n',
  [POSTS]:
    '-- migrate:up lock_timeout:5s statement_timeout:1m\ncreate table posts (id int primary key, user_id int references users (id), body text);\n-- migrate:down\ndrop table posts;\n',
  // Refused inside a transaction: runs as transaction:false, in the CLI and from the offline script alike.
  [INDEX]:
    '-- migrate:up transaction:false\ncreate index concurrently posts_user on posts (user_id);\n-- migrate:down transaction:false\ndrop index concurrently posts_user;\n',
};

/** `offloop <args> --json`, expecting exit 0 and one JSON document. */
async function json<T>(t: ExecutionContext, args: readonly string[]): Promise<T> {
  const result = await offloop([...args, '--json']);
  t.is(result.code, EXIT_OK, `offloop ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** `offloop check --json`: the exit code and the error code, if any. */
async function check(
  url: string,
  dir: string,
  extra: readonly string[] = [],
): Promise<{ code: number | null; error: string | null }> {
  const result = await offloop(['check', '--url', url, '--dir', dir, '--json', ...extra]);
  const document = JSON.parse(result.stdout) as { error?: { code: string } };
  return { code: result.code, error: document.error?.code ?? null };
}

/** `offloop check` in human form: its exit code and stderr. */
async function checkHuman(
  url: string,
  dir: string,
): Promise<{ code: number | null; stderr: string }> {
  const { code, stderr } = await offloop(['check', '--url', url, '--dir', dir]);
  return { code, stderr };
}

/** Tables, columns and indexes of the public schema: what "the same schema" means here. */
function catalog(url: string): Promise<unknown> {
  return withPool(url, async (pool) => ({
    columns: await pool.any(sql.unsafe`
      select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns
      where table_schema = 'public' order by table_name, column_name`),
    indexes: await pool.any(
      sql.unsafe`select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' order by tablename, indexname`,
    ),
  }));
}

/** The application's tables (not offloop's), by name. */
function userTables(url: string): Promise<readonly string[]> {
  return withPool(url, (pool) =>
    pool.anyFirst(sql.type(z.object({ name: z.string() }))`
    select table_name as name from information_schema.tables where table_schema = 'public' and table_name not like 'offloop%' order by 1`),
  );
}

function checksums(url: string): Promise<unknown> {
  return withPool(url, (pool) =>
    pool.any(sql.unsafe`select version, checksum from offloop_migrations order by version`),
  );
}

type Applied = { version: string }[];
type UpJson = { applied: Applied; current: string | null };
type DownJson = { reverted: Applied; current: string | null };

test('every command has --help, quoted in docs/cli.md; README holds offloop --help; every option has a flag', async (t) => {
  const [docs, readme] = await Promise.all([readFile(DOCS, 'utf8'), readFile(README, 'utf8')]);
  const help = async (argv: string[]): Promise<string> => {
    let stdout = '';
    const code = await run(argv, {
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: () => true },
      env: {},
      cwd: tmpdir(),
    });
    t.is(code, EXIT_OK);
    return stdout;
  };
  const global = await help(['--help']);
  t.true(
    readme.includes(global),
    'README.md is missing the current `offloop --help`: run pnpm --filter offloop run docs',
  );
  t.true(docs.includes(global));
  for (const name of [
    'up',
    'down',
    'redo',
    'status',
    'check',
    'lint',
    'plan',
    'history',
    'current',
    'stamp',
    'repair',
    'create',
    'fleet',
  ]) {
    t.true(
      COMMANDS.some((command) => command.name === name),
      name,
    );
    t.regex(global, new RegExp(`^  ${name}\\b`, 'm'));
  }
  // A group's help lists its commands; each of them has its own, with its flags.
  for (const command of COMMANDS.flatMap((each) => [each, ...(each.subcommands ?? [])])) {
    const text = await help([...command.name.split(' '), '--help']);
    t.regex(text, new RegExp(`^Usage: offloop ${command.name}`));
    if (command.subcommands === undefined) t.true(text.includes('--json'), command.name);
    t.true(
      docs.includes(text),
      `docs/cli.md is missing the current \`offloop ${command.name} --help\``,
    );
  }
  // Every option of the configuration (but cwd, which a file may not set) has a flag, documented with its key.
  const options = Object.keys(configSchema.shape)
    .filter((key) => key !== 'cwd')
    .sort();
  t.deepEqual(Object.values(OPTION_FLAGS).sort(), options);
  for (const [flag, key] of Object.entries(OPTION_FLAGS)) {
    t.regex(
      docs,
      new RegExp(`\\| \`--${flag}[^|]*\\|\\s*\`${key}\``),
      `docs/cli.md configuration table lacks --${flag} / ${key}`,
    );
  }
  const upHelp = await help(['up', '--help']);
  for (const flag of [
    '--statement-lock-timeout',
    '--migration-timeout',
    '--cancel-grace-period',
    '--timeout',
    '--allow-out-of-order',
    '--single-transaction',
    '--sql',
    '--from',
  ]) {
    t.true(upHelp.includes(flag), flag);
  }
});

test('down, redo and down --to base revert through the CLI; up again gives the same schema; history shows both', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  const base = ['--url', url, '--dir', dir];

  const up = await offloop(['up', ...base]);
  t.is(up.code, EXIT_OK, up.stderr);
  t.regex(up.stderr, /\[3\/3\] 20260103000000_posts_index\.sql \(transaction:false/);
  const applied = await catalog(url);

  const down = await json<DownJson>(t, ['down', ...base]);
  t.deepEqual(
    down.reverted.map((m) => m.version),
    ['20260103000000'],
  );
  t.is(down.current, '20260102000000');

  const redo = await json<{ reverted: Applied; applied: Applied; current: string }>(t, [
    'redo',
    ...base,
  ]);
  t.deepEqual(
    [redo.reverted.map((m) => m.version), redo.applied.map((m) => m.version)],
    [['20260102000000'], ['20260102000000']],
  );

  const plan = await json<{ direction: string; steps: { version: string; direction: string }[] }>(
    t,
    ['plan', '--down', '--to', 'base', ...base],
  );
  t.deepEqual(
    plan.steps.map((step) => `${step.direction} ${step.version}`),
    ['down 20260102000000', 'down 20260101000000'],
  );

  const toBase = await offloop(['down', '--to', 'base', ...base]);
  t.is(toBase.code, EXIT_OK, toBase.stderr);
  t.regex(
    toBase.stdout,
    /^Reverted 2 migrations \(20260102000000, 20260101000000\) in .*; nothing is applied now\n$/,
  );
  t.deepEqual(await userTables(url), []);

  const again = await json<UpJson>(t, ['up', ...base]);
  t.is(again.applied.length, 3);
  t.deepEqual(await catalog(url), applied);

  const history = await json<{
    applied: Applied;
    log: { direction: string; version: string; outcome: string }[];
  }>(t, ['history', ...base]);
  t.deepEqual(
    history.applied.map((m) => m.version),
    ['20260103000000', '20260102000000', '20260101000000'],
  );
  // The transaction:false migration also logs `started` before each of its runs (up, down, up).
  const outcomes = history.log.filter((entry) => entry.outcome !== 'started');
  t.deepEqual(
    history.log
      .filter((entry) => entry.outcome === 'started')
      .map((entry) => `${entry.direction} ${entry.version}`),
    ['up 20260103000000', 'down 20260103000000', 'up 20260103000000'],
  );
  const directions = outcomes.map((entry) => `${entry.direction} ${entry.version}`);
  // Newest first: the second up, the down to base, redo's up and down, the first down, the first up.
  t.deepEqual(directions.slice(0, 5), [
    'up 20260103000000',
    'up 20260102000000',
    'up 20260101000000',
    'down 20260101000000',
    'down 20260102000000',
  ]);
  t.is(outcomes.length, 3 + 1 + 2 + 2 + 3);

  const human = await offloop(['history', '--log', ...base]);
  t.is(human.code, EXIT_OK, human.stderr);
  t.regex(human.stdout, /^AT +ACTION +VERSION +NAME +OUTCOME +BY +TOOK/);
  t.is(
    human.stdout.split('\n').filter((line) => / down +2026010\d000000 .* succeeded /.test(line))
      .length,
    4,
  );
});

test('relative targets as the help writes them: down --to -N, up --to +N; a target the other way is a usage error', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  const base = ['--url', url, '--dir', dir];
  t.deepEqual(
    (await json<UpJson>(t, ['up', '--to', '+2', ...base])).applied.map((m) => m.version),
    ['20260101000000', '20260102000000'],
  );
  const plan = await json<{ steps: { version: string }[] }>(t, [
    'plan',
    '--down',
    '--to',
    '-1',
    ...base,
  ]);
  t.deepEqual(
    plan.steps.map((step) => step.version),
    ['20260102000000'],
  );
  const down = await json<DownJson>(t, ['down', '--to', '-1', ...base]);
  t.deepEqual(
    [down.reverted.map((m) => m.version), down.current],
    [['20260102000000'], '20260101000000'],
  );

  for (const args of [
    ['up', '--to', '-1'],
    ['plan', '--to', 'base'],
    ['down', '--to', '+1'],
  ]) {
    const refused = await offloop([...args, ...base]);
    t.is(refused.code, EXIT_CODES.CONFIG_INVALID, `${args.join(' ')}: ${refused.stderr}`);
    t.regex(
      refused.stderr,
      /--to: must be .* going (up|down); to go (back|forward), use offloop (down|up) --to/,
    );
  }
  t.deepEqual(await userTables(url), ['users']);
});

test('stamp adopts an existing database: up then runs only what comes after; stamp --base forgets; the log records both', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  const base = ['--url', url, '--dir', dir];
  // The "existing" schema: what the first migration would create. Running it again would fail.
  await withPool(url, (pool) =>
    pool.query(sql.unsafe`create table users (id int primary key, email text not null)`),
  );

  // What a new user tries first: up fails on the existing table, and says how to adopt it.
  const first = await offloop(['up', ...base]);
  t.is(first.code, EXIT_CODES.MIGRATION_FAILED);
  t.regex(
    first.stderr,
    /= help: if the database already had this schema before offloop managed it, adopt it .*offloop stamp <version>/,
  );

  const stamp = await offloop(['stamp', '2026010100', ...base]);
  t.is(stamp.code, EXIT_OK, stamp.stderr);
  t.regex(stamp.stdout, /^Stamped 1 migration as applied, without running: 20260101000000\n/);

  const up = await json<UpJson>(t, ['up', ...base]);
  t.deepEqual(
    up.applied.map((m) => m.version),
    ['20260102000000', '20260103000000'],
  );
  const applied = await offloop(['history', ...base]);
  t.regex(
    applied.stdout,
    /\n20260101000000 +users +.* stamped\n/,
    'a stamped migration shows as stamped, not as 0 ms',
  );

  const forget = await json<{ stamped: string[]; unstamped: string[]; current: string | null }>(t, [
    'stamp',
    '--base',
    ...base,
  ]);
  t.deepEqual(forget, {
    stamped: [],
    unstamped: ['20260101000000', '20260102000000', '20260103000000'],
    current: null,
  });
  t.deepEqual(await userTables(url), ['posts', 'users'], 'stamp runs nothing');
  const current = await offloop(['current', ...base]);
  t.is(current.stdout, 'base (nothing applied)\n');

  const { log } = await json<{ log: { direction: string; version: string }[] }>(t, [
    'history',
    ...base,
  ]);
  t.deepEqual(
    log
      .filter((entry) => entry.direction !== 'up')
      .map((entry) => `${entry.direction} ${entry.version}`)
      .sort(),
    [
      'stamp 20260101000000',
      'unstamp 20260101000000',
      'unstamp 20260102000000',
      'unstamp 20260103000000',
    ],
  );
});

test('check exits 0 when clean, 8 when pending, 5 for edited, missing and out-of-order files; repair fixes an edit, --dry-run changes nothing', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { [USERS]: FILES[USERS], [POSTS]: FILES[POSTS] });
  const base = ['--url', url, '--dir', dir];

  const pending = await check(url, dir);
  t.deepEqual([pending.code, pending.error], [EXIT_CODES.MIGRATIONS_PENDING, 'MIGRATIONS_PENDING']);
  t.is(pending.code, 8);
  t.regex(
    (await checkHuman(url, dir)).stderr,
    /^error\[MIGRATIONS_PENDING\]: 2 migrations are not applied yet: .*offloop up/,
  );
  t.deepEqual(await userTables(url), [], 'check is read-only');
  t.is((await offloop(['up', ...base])).code, EXIT_OK);
  t.deepEqual(await check(url, dir), { code: 0, error: null });

  // Edited after it was applied.
  await appendFile(join(dir, USERS), '-- a comment\n');
  const edited = await check(url, dir);
  t.deepEqual([edited.code, edited.error], [5, 'CHECKSUM_MISMATCH']);
  t.regex(
    (await checkHuman(url, dir)).stderr,
    /^error\[CHECKSUM_MISMATCH\]: .*20260101000000_users\.sql.*accept it with `offloop repair` \(look first with --dry-run\)/,
  );
  const before = await checksums(url);
  const dry = await offloop(['repair', '--dry-run', ...base]);
  t.is(dry.code, EXIT_OK, dry.stderr);
  t.regex(
    dry.stdout,
    /^Would make 1 change \(dry run: nothing was changed\):\n {2}accept the edited file 20260101000000_users\.sql /,
  );
  t.deepEqual(await checksums(url), before);
  const repair = await offloop(['repair', ...base]);
  t.is(repair.code, EXIT_OK, repair.stderr);
  t.regex(repair.stdout, /^Made 1 change:/);
  t.is((await check(url, dir)).code, 0);

  // A file of an applied migration is gone: repair leaves it unless told, and says how.
  const posts = await readFile(join(dir, POSTS), 'utf8');
  await unlink(join(dir, POSTS));
  t.deepEqual((await check(url, dir)).error, 'MIGRATION_FILE_MISSING');
  const kept = await offloop(['repair', ...base]);
  t.regex(
    kept.stdout,
    /Left alone: 1 applied migration whose file is gone: 20260102000000_posts\.\n.*offloop repair --forget-missing/,
  );
  t.is((await check(url, dir)).code, 5);
  await writeFile(join(dir, POSTS), posts);

  // A migration merged from a branch, older than the newest applied one.
  await writeFile(
    join(dir, '20260101120000_branch.sql'),
    '-- migrate:up\ncreate table branch (id int);\n',
  );
  const outOfOrder = await check(url, dir);
  t.deepEqual([outOfOrder.code, outOfOrder.error], [5, 'MIGRATION_OUT_OF_ORDER']);
  t.deepEqual((await check(url, dir, ['--allow-out-of-order'])).code, 8);
  const refused = await offloop(['up', ...base]);
  t.is(refused.code, EXIT_CODES.MIGRATION_OUT_OF_ORDER);
  t.regex(refused.stderr, /20260101120000_branch\.sql.*--allow-out-of-order/);
  const allowed = await json<UpJson>(t, ['up', '--allow-out-of-order', ...base]);
  t.deepEqual(
    allowed.applied.map((m) => m.version),
    ['20260101120000'],
  );
  t.is((await check(url, dir)).code, 0);
});

test('a non-transactional migration failing at its second statement: the CLI says what ran, the next run and check refuse', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_partial.sql':
      '-- migrate:up transaction:false\ncreate table first (id int);\ninsert into missing_table values (1);\ncreate table third (id int);\n',
  });
  const base = ['--url', url, '--dir', dir];
  const failed = await offloop(['up', ...base]);
  t.is(failed.code, EXIT_CODES.MIGRATION_FAILED, failed.stderr);
  t.regex(
    failed.stderr,
    /--> .*20260101000000_partial\.sql:3:13\n.*\n {2}3 \| insert into missing_table values \(1\);\n {4}\| {13}\^\n {2}= SQLSTATE: 42P01\n/,
  );
  t.regex(
    failed.stderr,
    /not transactional: its first statement ran and stays applied\. Until this is resolved, the next runs refuse to start\. .*`offloop repair`/,
  );
  t.deepEqual(await userTables(url), ['first']);

  const again = await offloop(['up', ...base]);
  t.is(again.code, EXIT_CODES.MIGRATION_DIRTY);
  t.regex(again.stderr, /^error\[MIGRATION_DIRTY\]/);
  t.deepEqual(await check(url, dir), { code: 5, error: 'MIGRATION_DIRTY' });
  const log = await offloop(['history', '--log', ...base]);
  t.regex(log.stdout, /up +20260101000000 +partial +partial .*1 statement ran; MIGRATION_FAILED/);
});

test('up --sql --from base needs no database; its script through psql gives the same schema, and the versions, as up', async (t) => {
  const [viaScript, viaUp] = await Promise.all([createTestDatabase(t), createTestDatabase(t)]);
  const dir = await migrationsDir(t, FILES);
  const cwd = await mkdtemp(join(tmpdir(), 'offloop-offline-'));
  await chmod(cwd, 0o755);
  t.teardown(() => rm(cwd, { recursive: true, force: true }));

  // No --url, no DATABASE_URL, no config file: nothing to connect to, and no embedded PostgreSQL either.
  const [offline, up] = await Promise.all([
    offloop(['up', '--sql', '--from', 'base', '--dir', dir], { cwd }),
    offloop(['up', '--url', viaUp, '--dir', dir]),
  ]);
  t.is(offline.code, EXIT_OK, offline.stderr);
  t.is(offline.stderr, '');
  t.regex(offline.stdout, /^-- offloop up: from base to 20260103000000, 3 migrations\n/);
  await t.throwsAsync(stat(join(cwd, '.offloop')), { code: 'ENOENT' });
  t.is(up.code, EXIT_OK, up.stderr);

  const script = join(cwd, 'release.sql');
  await writeFile(script, offline.stdout);
  const psql = await exec(PSQL, ['-v', 'ON_ERROR_STOP=1', '-q', '-d', viaScript, '-f', script]);
  t.is(psql.code, 0, psql.stderr);
  t.deepEqual(await catalog(viaScript), await catalog(viaUp));
  // The script records the migrations as up does, checksums included: check finds nothing wrong.
  t.is((await check(viaScript, dir)).code, 0);

  // Online: down --sql reads the version table (and only reads it); the script reverts everything.
  const down = await offloop(['down', '--sql', '--to', 'base', '--url', viaScript, '--dir', dir]);
  t.is(down.code, EXIT_OK, down.stderr);
  t.regex(down.stdout, /^-- offloop down: from 20260103000000 to base, 3 migrations\n/);
  t.is((await check(viaScript, dir)).code, 0, 'printing the script changed nothing');
  await writeFile(script, down.stdout);
  const revert = await exec(PSQL, ['-v', 'ON_ERROR_STOP=1', '-q', '-d', viaScript, '-f', script]);
  t.is(revert.code, 0, revert.stderr);
  t.deepEqual(await userTables(viaScript), []);
  t.is((await check(viaScript, dir)).code, EXIT_CODES.MIGRATIONS_PENDING);
});

test('plan lists what up would run, in order, with statement counts, transactions and timeouts', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  const plan = await offloop([
    'plan',
    '--url',
    url,
    '--dir',
    dir,
    '--statement-lock-timeout',
    '2s',
  ]);
  t.is(plan.code, EXIT_OK, plan.stderr);
  const lines = plan.stdout.split('\n');
  t.is(lines[0], 'offloop up would run 3 migrations, from base:');
  t.regex(
    lines[2] ?? '',
    /^# +DIRECTION +FILE +STATEMENTS +TRANSACTION +LOCK_TIMEOUT +STATEMENT_TIMEOUT$/,
  );
  // Marker options win over the configured lock timeout; the config's applies elsewhere.
  t.regex(lines[3] ?? '', /^1 +up +20260101000000_users\.sql +2 +yes +2 s +-$/);
  t.regex(lines[4] ?? '', /^2 +up +20260102000000_posts\.sql +1 +yes +5 s +1 min$/);
  t.regex(lines[5] ?? '', /^3 +up +20260103000000_posts_index\.sql +1 +no +2 s +-$/);
  t.regex(plan.stdout, /1 migration without a transaction/);
  t.deepEqual(await userTables(url), [], 'plan runs nothing');
  const exists = await withPool(url, (pool) =>
    pool.oneFirst(
      sql.type(
        z.object({ exists: z.boolean() }),
      )`select to_regclass('public.offloop_migrations') is not null as exists`,
    ),
  );
  t.false(exists, 'plan creates no table');
});

test('--single-transaction applies all or nothing; a CONCURRENTLY statement in a transactional file is refused before anything runs', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    [USERS]: FILES[USERS],
    '20260102000000_broken.sql':
      '-- migrate:up\ncreate table audit (id int);\nselect * from nowhere;\n',
  });
  const single = await offloop(['up', '--single-transaction', '--url', url, '--dir', dir]);
  t.is(single.code, EXIT_CODES.MIGRATION_FAILED);
  t.deepEqual(await userTables(url), [], 'the first migration was rolled back with the second');

  await writeFile(
    join(dir, '20260102000000_broken.sql'),
    '-- migrate:up\ncreate table audit (id int);\n  create index concurrently audit_id on audit (id);\n',
  );
  const refused = await offloop(['up', '--url', url, '--dir', dir]);
  t.is(refused.code, EXIT_CODES.NON_TRANSACTIONAL_STATEMENT);
  t.regex(
    refused.stderr,
    /^error\[NON_TRANSACTIONAL_STATEMENT\][\s\S]*--> .*20260102000000_broken\.sql:3:3\n[\s\S]*\n {4}\| {3}\^\n/,
  );
  t.regex(refused.stderr, /transaction:false/);
  t.deepEqual(await userTables(url), [], 'nothing ran');
});

test('down refuses --step past the applied migrations and --to a pending version, with TARGET_NOT_FOUND; durations printed are the stored ones', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, FILES);
  const base = ['--url', url, '--dir', dir];
  const up = await json<{ applied: { version: string; durationMs: number }[] }>(t, [
    'up',
    '--to',
    '20260102000000',
    ...base,
  ]);
  const history = await json<{ applied: { version: string; durationMs: number }[] }>(t, [
    'history',
    ...base,
  ]);
  t.deepEqual(
    [...history.applied].reverse().map((m) => [m.version, m.durationMs]),
    up.applied.map((m) => [m.version, m.durationMs]),
  );

  for (const args of [
    ['--step', '3'],
    ['--to', '20260103000000'],
    ['--to', '-3'],
  ]) {
    const refused = await offloop(['down', ...args, ...base, '--json']);
    t.is(refused.code, EXIT_CODES.TARGET_NOT_FOUND, refused.stdout);
    t.is(
      (JSON.parse(refused.stdout) as { error: { code: string } }).error.code,
      'TARGET_NOT_FOUND',
    );
  }
  t.deepEqual(await userTables(url), ['posts', 'users'], 'nothing was reverted');
});

test('--single-transaction: a run that rolls back prints no migration as applied, and its error lists none', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    [USERS]: FILES[USERS],
    [POSTS]: FILES[POSTS],
    '20260103000000_broken.sql': '-- migrate:up\nselect * from nowhere;\n',
  });
  const human = await offloop(['up', '--single-transaction', '--url', url, '--dir', dir]);
  t.is(human.code, EXIT_CODES.MIGRATION_FAILED);
  t.regex(
    human.stderr,
    /\[2\/3\] 20260102000000_posts\.sql \.\.\./,
    'progress shows the migrations that ran',
  );
  t.notRegex(human.stderr, /applied in/, 'none of them is reported applied');
  const asJson = await offloop([
    'up',
    '--single-transaction',
    '--url',
    url,
    '--dir',
    dir,
    '--json',
  ]);
  t.like(JSON.parse(asJson.stdout), {
    error: { code: 'MIGRATION_FAILED', details: { applied: [] } },
  });

  await unlink(join(dir, '20260103000000_broken.sql'));
  const applied = await offloop(['up', '--single-transaction', '--url', url, '--dir', dir]);
  t.is(applied.code, EXIT_OK, applied.stderr);
  t.regex(
    applied.stderr,
    /\[2\/2\] 20260102000000_posts\.sql \.\.\.\n\[1\/2\] 20260101000000_users\.sql applied in .*\n\[2\/2\] 20260102000000_posts\.sql applied in /,
    'applied once committed',
  );
});
