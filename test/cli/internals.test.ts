/** The CLI's pure parts, with no process and no database: versions, names, flags, redaction. */
import test from 'ava';
import { parseCommandLine } from '../../packages/cli/src/flags/parse.ts';
import {
  bumpVersion,
  newestVersion,
  nextVersion,
  normalizeName,
} from '../../packages/cli/src/commands/create.ts';
import { DATABASE_FLAGS } from '../../packages/cli/src/flags/database-options.ts';
import { EXIT_CODES } from '../../packages/cli/src/exit-codes.ts';
import { createOutput } from '../../packages/cli/src/output/output.ts';
import { renderProgress } from '../../packages/cli/src/output/progress.ts';
import { Redactor } from '../../packages/cli/src/output/redact.ts';
import { renderError } from '../../packages/cli/src/output/render-error.ts';
import {
  DatabaseUnavailableError,
  fromEnvelope,
  MigrationFailedError,
  toEnvelope,
} from '@offloop/core';

test('a new version is the current time, or one second after the newest existing one', (t) => {
  t.is(nextVersion('20260101120000', null), '20260101120000');
  t.is(nextVersion('20260101120000', '20250101000000'), '20260101120000');
  t.is(nextVersion('20260101120000', '20260101120000'), '20260101120001');
  t.is(nextVersion('20260101120000', '20260101235959'), '20260102000000');
  t.is(bumpVersion('20261231235959'), '20270101000000');
  t.is(bumpVersion('20280228235959'), '20280229000000');
  // Not a real time: counted up as a number, still 14 digits.
  t.is(bumpVersion('00000000000009'), '00000000000010');
  t.is(
    newestVersion(['20260101000000_a.sql', 'README.md', '20270101000000_b.ts', '2028_short.sql']),
    '20270101000000',
  );
  t.is(newestVersion([]), null);
});

test('migration names: spaces and dashes become _, anything else but letters, digits and _ is refused', (t) => {
  t.is(normalizeName('add users'), 'add_users');
  t.is(normalizeName(' add - users-table '), 'add_users_table');
  t.is(normalizeName('AddUsers2'), 'AddUsers2');
  const dotted = normalizeName('add.users');
  t.regex(typeof dotted === 'object' ? dotted.problem : dotted, /letters, digits and _/);
  t.true(typeof normalizeName('drop table;') === 'object');
  t.true(typeof normalizeName('   ') === 'object');
  t.true(typeof normalizeName('x'.repeat(101)) === 'object');
});

test('flag parsing reports every problem at once', (t) => {
  const parsed = parseCommandLine(
    ['--url', '--json', '--bogus', '--dir=a', '--dir', 'b', '--schema', '-x', '--table'],
    DATABASE_FLAGS,
  );
  t.deepEqual(
    parsed.issues.map((issue) => issue.path),
    ['--url', '--bogus', '--dir', '--schema', '--table'],
  );
  t.regex(parsed.issues[0]?.message ?? '', /needs a value, got the flag --json/);
  t.is(parsed.issues[2]?.message, 'given more than once');
  t.deepEqual(parseCommandLine(['--url=postgres://h/db', 'extra'], DATABASE_FLAGS), {
    values: { url: 'postgres://h/db' },
    positionals: ['extra'],
    issues: [],
  });
});

test("the redactor removes passwords from URLs anywhere, and the given URLs' passwords on their own", (t) => {
  const redactor = new Redactor();
  t.is(
    redactor.redact('at postgres://app:s3cret@db:5432/app and postgresql://u:p@h/d'),
    'at postgres://app:***@db:5432/app and postgresql://u:***@h/d',
  );
  t.is(
    redactor.redact('postgres://h/db?sslmode=require&password=hunter2'),
    'postgres://h/db?sslmode=require&password=***',
  );
  t.is(redactor.redact('postgres://app@db/app'), 'postgres://app@db/app');

  redactor.add('postgres://app:correct%20horse@db/app');
  t.is(
    redactor.redact('auth failed for "correct horse" (correct%20horse)'),
    'auth failed for "***" (***)',
  );
  // The embedded server's postgres:postgres must not blank out every "postgres".
  redactor.add('postgres://postgres:postgres@127.0.0.1:5433/postgres');
  t.is(
    redactor.redact('database postgres at postgres://postgres:postgres@127.0.0.1:5433/postgres'),
    'database postgres at postgres://postgres:***@127.0.0.1:5433/postgres',
  );
});

test('a statement waiting for a lock is shown with who holds it up; a concurrent build says why it waits', (t) => {
  t.is(
    renderProgress({
      type: 'migration:blocked',
      version: '20260101000000',
      pid: 10,
      waitedMs: 2100,
      lockType: 'relation',
      blockedBy: [
        {
          pid: 42,
          applicationName: 'psql',
          user: 'alice',
          state: 'idle in transaction',
          transactionMs: 41_000,
          query: 'select * from users',
        },
      ],
    }),
    '      waiting for a lock (relation) for 2.1 s, held up by backend 42 (psql, user alice, idle in transaction, transaction open 41 s)',
  );
  t.regex(
    renderProgress({
      type: 'migration:blocked',
      version: '20260101000000',
      pid: 10,
      waitedMs: 5000,
      lockType: 'virtualxid',
      blockedBy: [],
    }) ?? '',
    /for 5 s \(a concurrent index build waits for every transaction older than it, on any table\)$/,
  );
});

test('SQLSTATE 25001 from a statement the parser did not recognise: the help line names transaction:false', (t) => {
  const error = new MigrationFailedError(
    'x.sql:2:1: VACUUM cannot be executed from a function (SQLSTATE 25001), statement 1 of 1. Migration 20260101000000 was rolled back.',
    {
      version: '20260101000000',
      name: 'x',
      file: 'x.sql',
      line: 2,
      column: 1,
      statement: 1,
      statementCount: 1,
      direction: 'up',
      transactional: true,
      statementsRun: 0,
      sqlstate: '25001',
      detail: null,
      hint: null,
      applied: [],
      invalidIndexes: [],
    },
  );
  t.regex(
    renderError(error, { cwd: '/', migrationsDir: null }),
    /= help: this statement cannot run inside a transaction: add transaction:false to the marker line \("-- migrate:up transaction:false"\)/,
  );
});

test('--version prints the version; with --json, as one JSON document', async (t) => {
  const { run } = await import('offloop');
  const out: string[] = [];
  const io = {
    stdout: { write: (text: string) => void out.push(text) },
    stderr: { write: () => undefined },
    env: {},
    cwd: '/',
    signal: new AbortController().signal,
  };
  t.is(await run(['--version'], io), 0);
  t.regex(out.join(''), /^\d+\.\d+\.\d+\n$/);
  out.length = 0;
  t.is(await run(['-V', '--json'], io), 0);
  t.regex((JSON.parse(out.join('')) as { version: string }).version, /^\d+\.\d+\.\d+$/);
});

test('a failure with a cleanup failure attached: the original failure and its exit code, then the cleanup failure', (t) => {
  // As the host rebuilds a SuppressedError from the worker: the run's failure, the lock release's attached.
  const failure = fromEnvelope(
    toEnvelope(
      new SuppressedError(
        new DatabaseUnavailableError(
          'Lost the connection to postgres://u@db/app: terminating connection due to administrator command',
          { url: 'postgres://u@db/app', sqlstate: '57P01' },
        ),
        new MigrationFailedError(
          'x.sql:2:8: division by zero (SQLSTATE 22012). Migration 20260101000000 was rolled back.',
          {
            version: '20260101000000',
            name: 'x',
            file: 'x.sql',
            line: 2,
            column: 8,
            statement: 2,
            statementCount: 2,
            direction: 'up',
            transactional: true,
            statementsRun: 1,
            sqlstate: '22012',
            detail: null,
            hint: null,
            applied: [],
            invalidIndexes: [],
          },
        ),
      ),
    ),
  );
  const capture = (json: boolean) => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const io = {
      stdout: { write: (text: string) => void stdout.push(text) },
      stderr: { write: (text: string) => void stderr.push(text) },
      env: {},
      cwd: '/',
    };
    const code = createOutput(io, json).fail(failure);
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  };
  const human = capture(false);
  t.is(human.code, EXIT_CODES.MIGRATION_FAILED);
  const lines = human.stderr.split('\n');
  t.regex(lines[0] ?? '', /^error\[MIGRATION_FAILED\]: x\.sql:2:8: division by zero/);
  const also = lines.indexOf('also, cleaning up failed:');
  t.true(also > 0);
  t.regex(
    lines[also + 1] ?? '',
    /^error\[DATABASE_UNAVAILABLE\]: Lost the connection to postgres:\/\/u@db\/app/,
  );

  const json = capture(true);
  t.is(json.code, EXIT_CODES.MIGRATION_FAILED);
  const document = JSON.parse(json.stdout) as {
    error: { code: string; suppressed?: unknown };
    cleanupErrors: { code: string }[];
  };
  t.is(document.error.code, 'MIGRATION_FAILED');
  t.is(document.error.suppressed, undefined, 'listed once, as cleanupErrors');
  t.deepEqual(
    document.cleanupErrors.map((error) => error.code),
    ['DATABASE_UNAVAILABLE'],
  );
});
