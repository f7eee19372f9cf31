/**
 * The CLI end to end: `node packages/cli/src/bin.ts` spawned as a real process, against a fresh
 * database per test. Exit codes, stdout and stderr are what a deploy pipeline would see.
 */
import type { ExecutionContext } from 'ava';
import test from '../helpers/limited-test.ts';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { EXIT_CODES, EXIT_USAGE } from 'offloop';
import { packageScopeOf } from '@offloop/core';
import { EXIT_NODE_VERSION_UNSUPPORTED } from '../../packages/cli/src/exit-codes.ts';
import { sql } from 'slonik';
import { createTestDatabase, databaseName, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { BIN, offloop } from '../helpers/cli.ts';
import { socketDirectory } from '../helpers/unix-socket.ts';
import { startEmbeddedPostgres } from '@offloop/embedded-postgres';
import { spawn } from 'node:child_process';

const DOCS = fileURLToPath(new URL('../../docs/cli.md', import.meta.url));

const USERS =
  '-- migrate:up\ncreate table users (id int primary key);\n-- migrate:down\ndrop table users;\n';
const EMAIL = '-- migrate:up\nalter table users add column email text;\n';
// The failing statement is the second of the file, on line 3; PostgreSQL points at the table name, column 13.
const BROKEN =
  '-- migrate:up\ncreate table audit (id int);\nINSERT INTO missing_table VALUES (1);\n-- migrate:down\n';

/** A fresh working directory, readable by the `postgres` OS user (the embedded server runs as it under root). */
async function workDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'offloop-cli-'));
  await chmod(dir, 0o755);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function parseJson(t: ExecutionContext, text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    t.fail(`stdout is not one JSON document: ${(error as Error).message}\n${text}`);
    throw error;
  }
}

type StatusJson = {
  applied: { version: string; name: string; appliedAt: string; file: string | null }[];
  pending: { version: string }[];
  problems: unknown[];
  current: string | null;
  initialized: boolean;
};

test('--help works for offloop and for each command, and docs/cli.md quotes it verbatim', async (t) => {
  const docs = await readFile(DOCS, 'utf8');
  const global = await offloop(['--help']);
  t.is(global.code, 0);
  t.is(global.stderr, '');
  for (const command of ['up', 'status', 'create'])
    t.regex(global.stdout, new RegExp(`^  ${command}\\b`, 'm'));
  t.true(docs.includes(global.stdout), 'docs/cli.md is missing the current `offloop --help`');

  await Promise.all(
    ['up', 'status', 'create'].map(async (command) => {
      const [help, short, viaHelp] = await Promise.all([
        offloop([command, '--help']),
        offloop([command, '-h', '--bogus']),
        offloop(['help', command]),
      ]);
      t.is(help.code, 0, command);
      t.regex(help.stdout, new RegExp(`^Usage: offloop ${command}`));
      t.true(help.stdout.includes('--json'), command);
      t.true(
        docs.includes(help.stdout),
        `docs/cli.md is missing the current \`offloop ${command} --help\``,
      );
      // -h and `offloop help <command>` print the same text; --help wins over bad flags.
      t.is(short.stdout, help.stdout);
      t.is(viaHelp.stdout, help.stdout);
    }),
  );

  const none = await offloop([]);
  t.is(none.code, EXIT_USAGE);
  t.is(none.stdout, '');
  t.true(none.stderr.includes('Usage: offloop <command>'));
});

test('docs/cli.md documents the exit code of every error code, as the table has it', async (t) => {
  const docs = await readFile(DOCS, 'utf8');
  const documented: Record<string, number> = {};
  for (const match of docs.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\d+)\s*\|/gm))
    documented[match[1] as string] = Number(match[2]);
  t.deepEqual(documented, {
    ...EXIT_CODES,
    USAGE: EXIT_USAGE,
    NODE_VERSION_UNSUPPORTED: EXIT_NODE_VERSION_UNSUPPORTED,
  });
});

test('unknown commands are usage errors, in human and JSON form', async (t) => {
  const human = await offloop(['frobnicate']);
  t.is(human.code, EXIT_USAGE);
  t.regex(human.stderr, /^error\[USAGE\]: .*\n {2}- frobnicate: unknown command/);

  const json = await offloop(['frobnicate', '--json']);
  t.is(json.code, EXIT_USAGE);
  t.is(json.stderr, '');
  t.like(parseJson(t, json.stdout), { error: { code: 'USAGE' } });
});

test('create writes a dbmate-style SQL file named after the current UTC time, creating the directory', async (t) => {
  const cwd = await workDir(t);
  const before = utcVersion(new Date());
  const result = await offloop(['create', 'add users'], { cwd });
  const after = utcVersion(new Date());
  t.is(result.code, 0, result.stderr);
  t.is(result.stderr, '');
  const match = /^migrations\/(\d{14})_add_users\.sql\n$/.exec(result.stdout);
  if (match === null) return t.fail(`unexpected output: ${JSON.stringify(result.stdout)}`);
  const version = match[1] as string;
  t.true(version >= before && version <= after, `${version} not between ${before} and ${after}`);
  t.deepEqual(await readdir(join(cwd, 'migrations')), [`${version}_add_users.sql`]);
  t.is(
    await readFile(join(cwd, 'migrations', `${version}_add_users.sql`), 'utf8'),
    '-- migrate:up\n\n\n-- migrate:down\n\n',
  );
});

test('create picks a version after the newest one in the directory, and --ts writes a TypeScript template', async (t) => {
  const cwd = await workDir(t);
  await mkdir(join(cwd, 'db'));
  await writeFile(join(cwd, 'db', '29991231235959_from_the_future.sql'), USERS);

  const sqlFile = await offloop(['create', 'next-one', '--dir', 'db'], { cwd });
  t.is(sqlFile.code, 0, sqlFile.stderr);
  t.is(sqlFile.stdout, 'db/30000101000000_next_one.sql\n');

  // The temporary directory has no package.json above it: Node would have to guess a .ts file's
  // module system there, so the file is .mts (the rule's own tests are the ones below).
  if ((await packageScopeOf(cwd)).packageJson !== null)
    return t.log('skipped the --ts part: there is a package.json above', cwd);
  const tsFile = await offloop(['create', 'backfill', '--dir', 'db', '--ts', '--json'], { cwd });
  t.is(tsFile.code, 0, tsFile.stderr);
  const created = parseJson(t, tsFile.stdout);
  t.like(created, {
    version: '30000101000001',
    name: 'backfill',
    kind: 'ts',
    file: '30000101000001_backfill.mts',
  });
  t.is(
    tsFile.stderr,
    'offloop: 30000101000001_backfill.mts is .mts, not .ts: no package.json above db has ' +
      '"type": "module", so Node would have to guess a .ts file\'s module system\n',
  );
  const source = await readFile(join(cwd, 'db', '30000101000001_backfill.mts'), 'utf8');
  t.true(source.includes("import type { MigrationContext } from 'offloop';"));
  t.regex(source, /export async function up\(ctx: MigrationContext\)/);
  t.regex(source, /export async function down\(ctx: MigrationContext\)/);
});

test('create --ts under "type": "commonjs" (npm init) writes .mts, says why on stderr, and up applies it', async (t) => {
  const url = await createTestDatabase(t);
  const cwd = await workDir(t);
  await writeFile(join(cwd, 'package.json'), '{ "name": "app", "type": "commonjs" }\n');
  const created = await offloop(['create', 'backfill', '--ts'], { cwd });
  t.is(created.code, 0, created.stderr);
  const match = /^migrations\/(\d{14})_backfill\.mts\n$/.exec(created.stdout);
  if (match === null)
    return t.fail(`stdout is not just the path: ${JSON.stringify(created.stdout)}`);
  t.is(
    created.stderr,
    `offloop: ${match[1]}_backfill.mts is .mts, not .ts: package.json has "type": "commonjs", ` +
      'so Node would load a .ts file as CommonJS and fail on its export\n',
  );
  const up = await offloop(['up', '--url', url], { cwd });
  t.is(up.code, 0, up.stderr);
  t.regex(up.stdout, /^Applied 1 migration in .*; now at \d{14}\n$/);
});

test('create --ts under "type": "module" writes .ts, with no note', async (t) => {
  const cwd = await workDir(t);
  await writeFile(join(cwd, 'package.json'), '{ "name": "app", "type": "module" }\n');
  const created = await offloop(['create', 'backfill', '--ts', '--dir', 'db/migrations'], { cwd });
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /^db\/migrations\/\d{14}_backfill\.ts\n$/);
  t.is(created.stderr, '');
});

test('create --ts under a package.json with no "type" writes .mts: Node would guess, and warn', async (t) => {
  const cwd = await workDir(t);
  await writeFile(join(cwd, 'package.json'), '{ "name": "app" }\n');
  const created = await offloop(['create', 'backfill', '--ts'], { cwd });
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /^migrations\/\d{14}_backfill\.mts\n$/);
  t.regex(created.stderr, /: package\.json has no "type": "module", so Node would have to guess/);
});

test('a .ts migration under "type": "commonjs" fails to load with a hint to rename it .mts', async (t) => {
  const url = await createTestDatabase(t);
  const cwd = await workDir(t);
  await writeFile(join(cwd, 'package.json'), '{ "name": "app", "type": "commonjs" }\n');
  await mkdir(join(cwd, 'migrations'));
  await writeFile(
    join(cwd, 'migrations', '20260101000000_backfill.ts'),
    "import type { MigrationContext } from 'offloop';\nexport async function up(ctx: MigrationContext): Promise<void> {}\n",
  );
  const up = await offloop(['up', '--url', url], { cwd });
  t.is(up.code, EXIT_CODES.MIGRATION_MODULE_INVALID, up.stderr);
  t.true(
    up.stderr.includes(
      `error[MIGRATION_MODULE_INVALID]: 20260101000000_backfill.ts failed to load: ` +
        `Unexpected token 'export' (Node loads a .ts file as CommonJS here because ` +
        `${join(cwd, 'package.json')} has "type": "commonjs": rename it to ` +
        '20260101000000_backfill.mts, or set "type": "module" in that package.json)',
    ),
    up.stderr,
  );
  t.false(await tableExists(url, 'offloop_migrations'), 'nothing ran');
});

test('create rejects a bad name and lists every problem of the command line', async (t) => {
  const cwd = await workDir(t);
  const result = await offloop(['create', 'drop table;', 'extra', '--bogus'], { cwd });
  t.is(result.code, EXIT_USAGE);
  t.is(result.stdout, '');
  t.regex(result.stderr, /^error\[USAGE\]: invalid command line, 3 problems:/);
  t.regex(result.stderr, /- <name>: .*letters, digits and _/);
  t.regex(result.stderr, /- extra: unexpected argument/);
  t.regex(result.stderr, /- --bogus: unknown flag/);
  await t.throwsAsync(stat(join(cwd, 'migrations')), { code: 'ENOENT' });
});

test('up behind a long transaction shows its lock retries and the blocker, and succeeds once it ends; with no retries left it fails naming the blocker', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_email.sql': EMAIL,
  });
  const setup = await offloop(['up', '--url', url, '--dir', dir, '--to', '20260101000000']);
  t.is(setup.code, 0, setup.stderr);
  const flags = ['--url', url, '--dir', dir, '--lock-retry-max-wait', '300ms'];
  await withPool(url, (pool) =>
    pool
      .transaction(async (report) => {
        await report.query(sql.unsafe`set local application_name = 'nightly-report'`);
        await report.query(sql.unsafe`lock table users in access share mode`);
        const pid = await report.oneFirst(sql.unsafe`select pg_backend_pid()`);

        const failed = await offloop(['up', ...flags, '--lock-retries', '1']);
        t.is(failed.code, EXIT_CODES.LOCK_NOT_AVAILABLE, failed.stderr);
        t.regex(failed.stderr, /no lock within lock_timeout 100 ms \(attempt 1 of 2\)/);
        t.regex(failed.stderr, /LOCK_NOT_AVAILABLE/);
        t.regex(
          failed.stderr,
          new RegExp(`It waited for backend ${String(pid)} \\(application "nightly-report"`),
        );

        // The report ends (its transaction commits) once the run has printed three retries: the
        // blocker is sampled while a statement waits, and on a loaded machine one sample can miss.
        const child = spawn(process.execPath, [BIN, 'up', ...flags], {
          env: { ...process.env, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        const retried = new Promise<void>((resolve) => {
          child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
            stderr += chunk;
            if (stderr.split('retrying in').length > 3) resolve();
          });
        });
        const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
        await Promise.race([retried, exited]);
        return { running: exited.then((code) => ({ code, stderr })) };
      })
      .then(async ({ running }) => {
        const result = await running;
        t.is(result.code, 0, result.stderr);
        t.regex(
          result.stderr,
          /^ {6}no lock within lock_timeout 100 ms \(attempt 1 of 11\)(, held up by .*)?; rolled back, retrying in [\d.]+ m?s with lock_timeout \d+ ms$/m,
        );
        t.regex(
          result.stderr,
          /^ {6}no lock within lock_timeout \d+ ms \(attempt \d+ of 11\), held up by backend \d+ \(nightly-report, user postgres, idle in transaction, transaction open [\d.]+ m?s: select pg_backend_pid\(\)\); rolled back, retrying in [\d.]+ m?s with lock_timeout \d+ ms$/m,
          'a retry names the blocker',
        );
        t.regex(result.stderr, /^\[1\/1\] 20260102000000_email\.sql applied in/m);
      }),
  );
});

test('up applies pending migrations with progress on stderr; a re-run has nothing to do', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_email.sql': EMAIL,
  });

  const first = await offloop(['up', '--url', url, '--dir', dir]);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /^Applied 2 migrations in [\d.]+ (ms|s); now at 20260102000000\n$/);
  t.regex(first.stderr, /^\[1\/2\] 20260101000000_users\.sql \.\.\.$/m);
  t.regex(first.stderr, /^\[2\/2\] 20260102000000_email\.sql applied in [\d.]+ (ms|s)$/m);

  const again = await offloop(['up', '--url', url, '--dir', dir]);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, 'Nothing to do: database is up to date at 20260102000000\n');
  t.is(again.stderr, '');

  const status = await offloop(['status', '--url', url, '--dir', dir, '--json']);
  t.is(status.code, 0, status.stderr);
  t.is(status.stderr, '');
  const parsed = parseJson(t, status.stdout) as StatusJson;
  t.deepEqual(
    parsed.applied.map((row) => [row.version, row.name, row.file]),
    [
      ['20260101000000', 'users', '20260101000000_users.sql'],
      ['20260102000000', 'email', '20260102000000_email.sql'],
    ],
  );
  t.false(Number.isNaN(Date.parse(parsed.applied[0]?.appliedAt ?? '')));
  t.deepEqual(parsed.pending, []);
  t.deepEqual(parsed.problems, []);
  t.is(parsed.current, '20260102000000');
});

test('up --to stops at a version; status shows the rest as pending; --json prints the result', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_email.sql': EMAIL,
  });

  const up = await offloop(['up', '--url', url, '--dir', dir, '--to', '20260101000000', '--json']);
  t.is(up.code, 0, up.stderr);
  t.is(up.stderr, '', 'no progress lines on stderr with --json');
  const result = parseJson(t, up.stdout) as { applied: { version: string }[]; current: string };
  t.deepEqual(
    result.applied.map((row) => row.version),
    ['20260101000000'],
  );
  t.is(result.current, '20260101000000');

  const status = await offloop(['status', '--url', url, '--dir', dir]);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /^20260101000000 +users +applied +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/m);
  t.regex(status.stdout, /^20260102000000 +email +pending$/m);
  t.regex(status.stdout, /^1 applied, 1 pending; now at 20260101000000\.$/m);
});

test('a failing SQL migration exits with MIGRATION_FAILED code, showing file:line:column and a caret', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_broken.sql': BROKEN,
  });

  const human = await offloop(['up', '--url', url, '--dir', dir]);
  t.is(human.code, EXIT_CODES.MIGRATION_FAILED);
  t.is(human.code, 4);
  t.is(human.stdout, '');
  t.regex(human.stderr, /^error\[MIGRATION_FAILED\]: /m);
  t.regex(human.stderr, /--> .*20260102000000_broken\.sql:3:13\n/);
  t.true(
    human.stderr.includes(
      `  3 | INSERT INTO missing_table VALUES (1);\n    | ${' '.repeat(12)}^\n`,
    ),
    human.stderr,
  );
  t.regex(human.stderr, /= SQLSTATE: 42P01/);

  // The first migration stays applied; the broken one was rolled back (its table too).
  const status = parseJson(
    t,
    (await offloop(['status', '--url', url, '--dir', dir, '--json'])).stdout,
  ) as StatusJson;
  t.deepEqual(
    status.applied.map((row) => row.version),
    ['20260101000000'],
  );
  t.deepEqual(
    status.pending.map((row) => row.version),
    ['20260102000000'],
  );
  t.false(await tableExists(url, 'audit'));

  const json = await offloop(['up', '--url', url, '--dir', dir, '--json']);
  t.is(json.code, EXIT_CODES.MIGRATION_FAILED);
  const { error } = parseJson(t, json.stdout) as {
    error: { code: string; details: Record<string, unknown> };
  };
  t.is(error.code, 'MIGRATION_FAILED');
  t.like(error.details, {
    version: '20260102000000',
    file: '20260102000000_broken.sql',
    line: 3,
    column: 13,
    sqlstate: '42P01',
  });
});

test('a SQL syntax error is reported with its location before anything runs', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_typo.sql': '-- migrate:up\nselect 1;\nselec 2;\n',
  });
  const result = await offloop(['up', '--url', url, '--dir', dir]);
  t.is(result.code, EXIT_CODES.SQL_SYNTAX_ERROR);
  t.regex(result.stderr, /^error\[SQL_SYNTAX_ERROR\]: /m);
  t.regex(result.stderr, /20260102000000_typo\.sql:3:1\n/);
  t.true(result.stderr.includes('  3 | selec 2;\n    | ^\n'), result.stderr);
  t.false(await tableExists(url, 'users'), 'nothing ran');
});

test('configuration errors from flags and the config file are all listed at once, with the usage exit code', async (t) => {
  const cwd = await workDir(t);
  await writeFile(
    join(cwd, 'offloop.config.json'),
    JSON.stringify({ tabel: 'x', lockTimeout: 'soon', dir: './db' }),
  );
  const args = [
    'up',
    '--lock-timeout',
    'abc',
    '--schema',
    '1bad',
    '--bogus',
    '--url',
    'mysql://u@h/db',
    '--to',
    'next',
  ];

  const human = await offloop(args, { cwd });
  t.is(human.code, EXIT_CODES.CONFIG_INVALID);
  t.is(human.code, EXIT_USAGE);
  t.is(human.stdout, '');
  t.regex(human.stderr, /^error\[CONFIG_INVALID\]: invalid configuration, 7 problems:\n/);
  for (const path of [
    '--lock-timeout',
    '--schema',
    '--bogus',
    '--url',
    '--to',
    'offloop.config.json: lockTimeout',
  ]) {
    t.true(human.stderr.includes(`  - ${path}: `), `${path} not listed:\n${human.stderr}`);
  }
  t.regex(human.stderr, /- offloop\.config\.json: unknown option: tabel/);

  const json = await offloop([...args, '--json'], { cwd });
  t.is(json.code, EXIT_USAGE);
  const { error } = parseJson(t, json.stdout) as {
    error: { code: string; details: { issues: { path: string }[] } };
  };
  t.is(error.code, 'CONFIG_INVALID');
  t.deepEqual(error.details.issues.map((issue) => issue.path).sort(), [
    '--bogus',
    '--lock-timeout',
    '--schema',
    '--to',
    '--url',
    'offloop.config.json',
    'offloop.config.json: lockTimeout',
  ]);

  const missing = await offloop(['status', '--config', 'nope.json', '--url'], { cwd });
  t.is(missing.code, EXIT_USAGE);
  t.regex(missing.stderr, /- --url: needs a value/);
  t.regex(missing.stderr, /- --config: cannot read nope\.json: no such file/);
});

test('flags override DATABASE_URL, which overrides the config file; a relative dir in the file is relative to it', async (t) => {
  const url = await createTestDatabase(t);
  const cwd = await workDir(t);
  const unreachable = 'postgres://nobody@127.0.0.1:1/nowhere';
  await mkdir(join(cwd, 'config', 'sql'), { recursive: true });
  await writeFile(join(cwd, 'config', 'sql', '20260101000000_users.sql'), USERS);
  await writeFile(
    join(cwd, 'config', 'offloop.json'),
    JSON.stringify({ url: unreachable, dir: 'sql', lockTimeout: '5s', connectTimeout: '2s' }),
  );

  const fromEnv = await offloop(['up', '--config', 'config/offloop.json'], {
    cwd,
    env: { DATABASE_URL: url },
  });
  t.is(fromEnv.code, 0, fromEnv.stderr);
  t.regex(fromEnv.stdout, /^Applied 1 migration in /);

  const fromFlag = await offloop(
    ['status', '--config', 'config/offloop.json', '--url', url, '--json'],
    { cwd, env: { DATABASE_URL: unreachable } },
  );
  t.is(fromFlag.code, 0, fromFlag.stderr);
  t.is((parseJson(t, fromFlag.stdout) as StatusJson).current, '20260101000000');

  await writeFile(join(cwd, 'offloop.config.json'), JSON.stringify({ url, dir: 'config/sql' }));
  const fromFile = await offloop(['status', '--json'], { cwd });
  t.is(fromFile.code, 0, fromFile.stderr);
  t.is(fromFile.stderr, '', 'no embedded PostgreSQL when the config file has a URL');
  t.is((parseJson(t, fromFile.stdout) as StatusJson).current, '20260101000000');
});

test('a password in a URL is never printed, on success or failure, in human or JSON output', async (t) => {
  const url = await createTestDatabase(t);
  // A role of our own with a password that appears nowhere else (trust or password auth alike).
  const role = `offloop_cli_${randomBytes(4).toString('hex')}`;
  const password = `Pw-${randomBytes(9).toString('base64url')}`;
  await withPool(url, (pool) =>
    pool.query(
      sql.unsafe`CREATE ROLE ${sql.identifier([role])} LOGIN SUPERUSER PASSWORD ${sql.literalValue(password)}`,
    ),
  );
  t.teardown(() =>
    withPool(url, async (pool) => {
      await pool.query(sql.unsafe`DROP OWNED BY ${sql.identifier([role])}`);
      await pool.query(sql.unsafe`DROP ROLE ${sql.identifier([role])}`);
    }),
  );
  const secretUrl = new URL(url);
  secretUrl.username = role;
  secretUrl.password = password;
  const dir = await migrationsDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_broken.sql': BROKEN,
  });

  const runs = [
    await offloop(['status', '--url', secretUrl.href, '--dir', dir]),
    await offloop(['up', '--url', secretUrl.href, '--dir', dir]),
    await offloop(['up', '--dir', dir, '--json'], { env: { DATABASE_URL: secretUrl.href } }),
    await offloop([
      'status',
      '--url',
      `postgres://${role}:${password}@127.0.0.1:1/nowhere`,
      '--dir',
      dir,
      '--connect-timeout',
      '2s',
    ]),
    await offloop([
      'status',
      '--url',
      `postgres://${role}:${password}@127.0.0.1:1/nowhere`,
      '--dir',
      dir,
      '--connect-timeout',
      '2s',
      '--json',
    ]),
    await offloop(['status', '--url', `mysql://${role}:${password}@127.0.0.1/db`, '--dir', dir]),
  ];
  for (const [index, run] of runs.entries()) {
    t.false(run.stdout.includes(password), `run ${index} printed the password on stdout`);
    t.false(run.stderr.includes(password), `run ${index} printed the password on stderr`);
  }
  t.is(runs[0]?.code, 0);
  t.true(runs[0]?.stdout.includes(`Database:   postgres://${role}:***@`), runs[0]?.stdout);
  t.is(runs[1]?.code, EXIT_CODES.MIGRATION_FAILED);
  t.is(runs[3]?.code, EXIT_CODES.DATABASE_UNAVAILABLE);
  t.like(parseJson(t, runs[4]?.stdout ?? ''), { error: { code: 'DATABASE_UNAVAILABLE' } });
  t.is(runs[5]?.code, EXIT_USAGE);
});

test('without a URL anywhere, the embedded PostgreSQL is started for the command and stopped after it', async (t) => {
  const cwd = await workDir(t);
  await mkdir(join(cwd, 'migrations'));
  await writeFile(join(cwd, 'migrations', '20260101000000_users.sql'), USERS);

  const up = await offloop(['up'], { cwd });
  t.is(up.code, 0, up.stderr);
  t.regex(
    up.stderr,
    /^offloop: no database given \(--url, DATABASE_URL, offloop\.config\.json, PG\* environment\): using embedded PostgreSQL \d+[.\d]* \(data in \.offloop\/pg\)$/m,
  );
  t.regex(up.stdout, /^Applied 1 migration in [\d.]+ (ms|s); now at 20260101000000\n$/);
  await t.throwsAsync(
    stat(join(cwd, '.offloop', 'pg', 'postmaster.pid')),
    { code: 'ENOENT' },
    'the server was stopped',
  );

  // The data persist between commands.
  const status = await offloop(['status', '--json'], { cwd });
  t.is(status.code, 0, status.stderr);
  t.is((parseJson(t, status.stdout) as StatusJson).current, '20260101000000');
});

test('a TypeScript migration from `create --ts` applies as written', async (t) => {
  const url = await createTestDatabase(t);
  const cwd = await workDir(t);
  const created = await offloop(['create', 'from_template', '--ts'], { cwd });
  t.is(created.code, 0, created.stderr);
  const up = await offloop(['up', '--url', url], { cwd });
  t.is(up.code, 0, up.stderr);
  t.regex(up.stdout, /^Applied 1 migration in .*; now at \d{14}\n$/);
});

function utcVersion(date: Date): string {
  return date.toISOString().replace(/\D/g, '').slice(0, 14);
}

async function tableExists(url: string, table: string): Promise<boolean> {
  return withPool(
    url,
    (pool) =>
      pool.oneFirst(
        sql.unsafe`SELECT to_regclass(${`public.${table}`}) IS NOT NULL AS exists`,
      ) as Promise<boolean>,
  );
}

test('create with --dir naming a file says so, with the migration files exit code', async (t) => {
  const cwd = await workDir(t);
  await writeFile(join(cwd, 'not-a-dir'), '');
  const result = await offloop(['create', 'users', '--dir', 'not-a-dir'], { cwd });
  t.is(result.code, EXIT_CODES.MIGRATIONS_DIR_NOT_FOUND, result.stderr);
  t.regex(
    result.stderr,
    /^error\[MIGRATIONS_DIR_NOT_FOUND\]: Could not create a migration in .*not-a-dir: it \(or a parent of it\) is a file, not a directory/,
  );
});

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`${signal} during a migration cancels it on the server, rolls it back and exits ${code}`, async (t) => {
    const url = await createTestDatabase(t);
    const dir = await migrationsDir(t, {
      '20260101000000_users.sql': USERS,
      '20260102000000_slow.sql':
        '-- migrate:up\ncreate table slow (id int);\nselect pg_sleep(60);\n',
    });
    const child = spawn(process.execPath, [BIN, 'up', '--url', url, '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (stderr.includes('[2/2] 20260102000000_slow.sql ...')) resolve();
      });
      child.on('close', () => reject(new Error(`offloop exited early:\n${stderr}`)));
    });
    // The statement is running on the server by now, or about to: the cancel is retried until it lands.
    child.kill(signal);
    t.is(await exited, code, stderr);
    t.regex(stderr, /interrupted; cancelling the run/);
    t.regex(stderr, /error\[RUN_ABORTED\]/);
    t.true(await tableExists(url, 'users'), 'the migration committed before stays applied');
    t.false(await tableExists(url, 'slow'), 'the cancelled migration was rolled back');
  });
}

/** libpq's variables for the test database `url`, as a deploy pipeline would set them. */
function libpqEnvironment(url: string): Record<string, string> {
  const parsed = new URL(url);
  return {
    PGHOST: parsed.hostname,
    PGPORT: parsed.port || '5432',
    PGUSER: decodeURIComponent(parsed.username),
    PGDATABASE: databaseName(url),
    ...(parsed.password === '' ? {} : { PGPASSWORD: decodeURIComponent(parsed.password) }),
  };
}

test('with PGHOST, PGUSER, PGDATABASE and no URL, the database they name is migrated, never an embedded one', async (t) => {
  const url = await createTestDatabase(t);
  const cwd = await workDir(t);
  await mkdir(join(cwd, 'migrations'));
  await writeFile(join(cwd, 'migrations', '20260101000000_users.sql'), USERS);
  const env = libpqEnvironment(url);

  const up = await offloop(['up'], { cwd, env });
  t.is(up.code, 0, up.stderr);
  t.false(up.stderr.includes('embedded'), up.stderr);
  t.true(await tableExists(url, 'users'), 'the database PGDATABASE names was migrated');
  await t.throwsAsync(
    stat(join(cwd, '.offloop')),
    { code: 'ENOENT' },
    'no embedded PostgreSQL was started',
  );

  const status = await offloop(['status'], { cwd, env });
  t.is(status.code, 0, status.stderr);
  // PGPASSWORD stays out of the URL: the driver reads it.
  t.true(
    status.stdout.includes(
      `Database:   postgres://${env.PGUSER}@${env.PGHOST}:${env.PGPORT}/${env.PGDATABASE}\n`,
    ),
    status.stdout,
  );

  // A PG* variable that names nothing reachable fails the run: a forgotten DATABASE_URL is loud.
  const unreachable = await offloop(['up', '--connect-timeout', '2s'], {
    cwd,
    env: { PGHOST: '127.0.0.1', PGPORT: '1', PGDATABASE: 'app' },
  });
  t.is(unreachable.code, EXIT_CODES.DATABASE_UNAVAILABLE, unreachable.stderr);
  t.regex(
    unreachable.stderr,
    /^error\[DATABASE_UNAVAILABLE\]: Cannot connect to postgres:\/\/[^@]+@127\.0\.0\.1:1\/app: /,
  );

  // Service files are not read: refused, not ignored.
  const service = await offloop(['status'], { cwd, env: { PGSERVICE: 'prod' } });
  t.is(service.code, EXIT_CODES.CONFIG_INVALID);
  t.regex(service.stderr, /- PGSERVICE: offloop does not read pg_service\.conf/);
});

test('a URL with a socket directory connects through it, as ?host=, percent-encoded, or the default directory', async (t) => {
  const url = await createTestDatabase(t);
  const cwd = await workDir(t);
  await mkdir(join(cwd, 'migrations'));
  await writeFile(join(cwd, 'migrations', '20260101000000_users.sql'), USERS);
  await writeFile(join(cwd, 'migrations', '20260102000000_email.sql'), EMAIL);
  const {
    PGUSER: user = '',
    PGPASSWORD: password,
    PGDATABASE: database = '',
  } = libpqEnvironment(url);
  const userinfo = `${encodeURIComponent(user)}${password === undefined ? '' : `:${encodeURIComponent(password)}`}`;
  const socket = await socketDirectory(t);

  const query = await offloop(
    [
      'up',
      '--to',
      '20260101000000',
      '--url',
      `postgres://${userinfo}@/${database}?host=${socket.dir}&port=${socket.port}`,
    ],
    { cwd },
  );
  t.is(query.code, 0, query.stderr);
  t.true(await tableExists(url, 'users'));
  const encoded = await offloop(
    [
      'status',
      '--url',
      `postgresql://${userinfo}@${encodeURIComponent(socket.dir)}:${socket.port}/${database}`,
    ],
    { cwd },
  );
  t.is(encoded.code, 0, encoded.stderr);
  t.true(
    encoded.stdout.includes(
      `Database:   postgresql://${encodeURIComponent(user)}${password === undefined ? '' : ':***'}@/${database}?host=${socket.dir}&port=${socket.port}\n`,
    ),
    encoded.stdout,
  );

  // No host anywhere: libpq's socket directory (/tmp here), where a server listens.
  const port = 40_000 + Math.floor(Math.random() * 20_000);
  await socketDirectory(t, { dir: '/tmp', port });
  const env = {
    PGPORT: String(port),
    PGUSER: user,
    PGDATABASE: database,
    ...(password === undefined ? {} : { PGPASSWORD: password }),
  };
  const fromDefault = await offloop(['up'], { cwd, env });
  t.is(fromDefault.code, 0, fromDefault.stderr);
  t.true(await tableExists(url, 'users'));
  const columns = await withPool(url, (pool) =>
    pool.anyFirst(
      sql.unsafe`select column_name from information_schema.columns where table_name = 'users' order by 1`,
    ),
  );
  t.deepEqual(columns, ['email', 'id']);
});

test('sslmode=require against a server without SSL is DATABASE_UNAVAILABLE (exit 7) with the reason, and no stack trace', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  for (const mode of ['require', 'verify-full']) {
    const sslUrl = new URL(url);
    sslUrl.searchParams.set('sslmode', mode);
    const human = await offloop(['up', '--url', sslUrl.href, '--dir', dir]);
    t.is(human.code, EXIT_CODES.DATABASE_UNAVAILABLE, human.stderr);
    t.regex(
      human.stderr,
      /^error\[DATABASE_UNAVAILABLE\]: Cannot connect to postgres:\/\/\S+sslmode=require: the server does not support SSL, and the URL asks for it/m,
    );
    t.notRegex(human.stderr, /^\s+at /m, 'no stack trace');
    const json = await offloop(['up', '--url', sslUrl.href, '--dir', dir, '--json']);
    t.is(json.code, EXIT_CODES.DATABASE_UNAVAILABLE);
    t.like(parseJson(t, json.stdout), { error: { code: 'DATABASE_UNAVAILABLE' } });
    t.false(json.stdout.includes('"stack"'));
  }
  // PGSSLMODE is honoured as psql honours it.
  const fromEnv = await offloop(['status', '--dir', dir], {
    env: { ...libpqEnvironment(url), PGSSLMODE: 'require' },
  });
  t.is(fromEnv.code, EXIT_CODES.DATABASE_UNAVAILABLE, fromEnv.stderr);
  t.false(await tableExists(url, 'users'));
});

test('a password-protected server named by PG* variables takes its password from ~/.pgpass', async (t) => {
  const cwd = await workDir(t);
  const password = `Pw-${randomBytes(9).toString('base64url')}`;
  await using server = await startEmbeddedPostgres({
    dataDir: join(cwd, 'server'),
    persistent: false,
    password,
  });
  const home = join(cwd, 'home');
  await mkdir(home);
  await mkdir(join(cwd, 'migrations'));
  await writeFile(join(cwd, 'migrations', '20260101000000_users.sql'), USERS);
  const env = {
    HOME: home,
    PGHOST: '127.0.0.1',
    PGPORT: String(server.port),
    PGUSER: 'postgres',
    PGDATABASE: 'postgres',
  };

  const without = await offloop(['up'], { cwd, env });
  t.is(without.code, EXIT_CODES.DATABASE_UNAVAILABLE, without.stderr);
  t.regex(without.stderr, /the server asks for a password, and none was given/);

  await writeFile(
    join(home, '.pgpass'),
    `127.0.0.1:${server.port}:postgres:postgres:${password}\n`,
    { mode: 0o600 },
  );
  const up = await offloop(['up'], { cwd, env });
  t.is(up.code, 0, up.stderr);
  t.false(up.stderr.includes('Deprecation'), up.stderr);
  t.false(`${up.stdout}${up.stderr}`.includes(password));
  t.true(await tableExists(server.url, 'users'));
});

test("an unknown flag or a bad flag value is CONFIG_INVALID; a wrong argument is USAGE, listing the flags' problems too", async (t) => {
  const cwd = await workDir(t);
  for (const args of [
    ['status', '--bogus'],
    ['up', '--to', '-1'],
    ['down', '--step', '0'],
    ['create', 'users', '--bogus'],
  ]) {
    const result = await offloop([...args, '--json'], { cwd });
    t.is(result.code, EXIT_USAGE, args.join(' '));
    t.like(parseJson(t, result.stdout), { error: { code: 'CONFIG_INVALID' } }, args.join(' '));
  }
  for (const args of [
    ['up', 'extra', '--bogus'],
    ['stamp', '--bogus'],
    ['create', '--bogus'],
  ]) {
    const result = await offloop([...args, '--json'], { cwd });
    t.is(result.code, EXIT_USAGE, args.join(' '));
    const { error } = parseJson(t, result.stdout) as {
      error: { code: string; details: { issues: { path: string }[] } };
    };
    t.is(error.code, 'USAGE', args.join(' '));
    t.true(
      error.details.issues.some((issue) => issue.path === '--bogus'),
      args.join(' '),
    );
  }
});
