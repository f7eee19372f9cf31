/**
 * `offloop lint` end to end, as a real process: it finds every rule in a directory of unsafe
 * migrations (rule id and location), nothing in the safe examples of docs/lint.md, grades
 * findings by the size of real tables on a real database, and `up` prints findings before it
 * runs (or refuses, strict).
 */
import type { ExecutionContext } from 'ava';
import test from '../helpers/limited-test.ts';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { EXIT_CODES, EXIT_OK } from 'offloop';
import { LINT_RULE_IDS, type LintFinding, type LintResult } from '@offloop/core';
import { sql } from 'slonik';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { offloop, type Result } from '../helpers/cli.ts';

const LINT_DOCS = fileURLToPath(new URL('../../docs/lint.md', import.meta.url));

/** `statementLockTimeout` is set to none, so that `missing-lock-timeout` depends on the files only. */
const NO_CONFIG_TIMEOUT = ['--statement-lock-timeout', '0'];

/** The version of the `index`th migration of a generated directory. */
const version = (index: number): string => `2026010100${String(index).padStart(4, '0')}`;

/** The file name of the migration for `rule`, the `index`th of its directory. */
const fileFor = (index: number, rule: string): string =>
  `${version(index)}_${rule.replaceAll('-', '_')}.sql`;

function parseResult(t: ExecutionContext, result: Result): LintResult {
  try {
    return JSON.parse(result.stdout) as LintResult;
  } catch {
    t.fail(`not JSON: ${result.stdout}\n${result.stderr}`);
    throw new Error('unreachable');
  }
}

/** One unsafe migration per rule: the rule, the file's body, and the line and column it points at. */
const UNSAFE: readonly (readonly [rule: string, source: string, line: number, column: number])[] = [
  ['create-index-not-concurrent', '-- migrate:up\ncreate index i on accounts (a);\n', 2, 19],
  ['drop-index-not-concurrent', '-- migrate:up\ndrop index accounts_a;\n', 2, 1],
  ['reindex-not-concurrent', '-- migrate:up\nreindex table accounts;\n', 2, 15],
  [
    'foreign-key-not-valid',
    '-- migrate:up\nalter table orders add constraint f foreign key (a) references accounts (id);\n',
    2,
    24,
  ],
  [
    'check-not-valid',
    '-- migrate:up\nalter table accounts add constraint c check (a > 0);\n',
    2,
    26,
  ],
  [
    'set-not-null-without-check',
    '-- migrate:up\nalter table accounts alter column a set not null;\n',
    2,
    1,
  ],
  [
    'unique-without-index',
    '-- migrate:up\nalter table accounts add constraint k unique (a);\n',
    2,
    26,
  ],
  [
    'column-type-change',
    '-- migrate:up\nalter table accounts alter column a type bigint;\n',
    2,
    35,
  ],
  [
    'volatile-default',
    '-- migrate:up\nalter table accounts add column t uuid default gen_random_uuid();\n',
    2,
    33,
  ],
  ['rename-column', '-- migrate:up\nalter table accounts rename column a to b;\n', 2, 13],
  ['rename-table', '-- migrate:up\nalter table accounts rename to users;\n', 2, 13],
  ['drop-column', '-- migrate:up\nalter table accounts drop column a;\n', 2, 13],
  ['drop-table', '-- migrate:up\ndrop table accounts;\n', 2, 1],
  [
    'vacuum-full',
    '-- migrate:up transaction:false lock_timeout:1s\nvacuum full accounts;\n',
    2,
    13,
  ],
  ['cluster', '-- migrate:up\ncluster accounts using accounts_pkey;\n', 2, 9],
  ['lock-table', '-- migrate:up\nlock table accounts;\n', 2, 12],
  ['truncate', '-- migrate:up\ntruncate accounts;\n', 2, 10],
  [
    'exclusive-lock-then-more',
    "-- migrate:up\nalter table orders add column n text;\nupdate orders set n = 'x';\n",
    2,
    13,
  ],
  ['enum-value-in-transaction', "-- migrate:up\nalter type status add value 'x';\n", 2, 1],
  [
    'missing-lock-timeout',
    "-- migrate:up transaction:false\n\nalter type status add value 'y';\n",
    3,
    1,
  ],
  [
    'refresh-materialized-view-not-concurrent',
    '-- migrate:up\nrefresh materialized view totals;\n',
    2,
    27,
  ],
  [
    'lint-ignore-invalid',
    '-- migrate:up\n-- offloop-lint-ignore truncate\ntruncate orders;\n',
    2,
    1,
  ],
];

test('lint finds each rule in a directory of unsafe migrations, with its rule id and location', async (t) => {
  t.deepEqual(
    [...new Set(UNSAFE.map(([rule]) => rule))].sort(),
    [...LINT_RULE_IDS].sort(),
    'every rule has an unsafe migration here',
  );
  const dir = await migrationsDir(
    t,
    Object.fromEntries(UNSAFE.map(([rule, source], index) => [fileFor(index, rule), source])),
  );
  // Offline (no database named), assuming PostgreSQL 11 for the version-dependent rules.
  const json = await offloop([
    'lint',
    '--dir',
    dir,
    '--postgres-version',
    '11',
    ...NO_CONFIG_TIMEOUT,
    '--json',
  ]);
  t.is(json.code, EXIT_CODES.LINT_FAILED, json.stderr);
  const result = parseResult(t, json);
  t.false(result.live);
  t.is(result.postgresVersion, 11);
  const where = (finding: LintFinding): string =>
    `${finding.file}:${finding.line}:${finding.column} ${finding.rule}`;
  t.deepEqual(
    result.findings.map(where),
    UNSAFE.map(
      ([rule, , line, column], index) => `${fileFor(index, rule)}:${line}:${column} ${rule}`,
    ),
  );

  const human = await offloop(
    ['lint', '--dir', dir, '--postgres-version', '11', ...NO_CONFIG_TIMEOUT],
    { cwd: dir },
  );
  t.is(human.code, EXIT_CODES.LINT_FAILED);
  t.regex(
    human.stdout,
    new RegExp(
      `^${version(0)}_create_index_not_concurrent\\.sql:2:19 create-index-not-concurrent \\[warning\\] `,
      'm',
    ),
  );
  // The line itself, and a caret under the column.
  t.regex(human.stdout, /^ {2}2 \| create index i on accounts \(a\);\n {4}\| {19}\^$/m);
  t.regex(
    human.stdout,
    /^22 findings \(1 error, 21 warnings, 0 notes\) in 22 SQL migrations; offline, assuming PostgreSQL 11: lint failed\.$/m,
  );
});

test('lint finds nothing in the safe examples of docs/lint.md', async (t) => {
  const docs = await readFile(LINT_DOCS, 'utf8');
  const blocks = [...docs.matchAll(/```sql\n([\s\S]*?)```/g)]
    .map((match) => match[1] ?? '')
    .filter((block) => block.startsWith('-- migrate:up'));
  t.true(blocks.length >= 20, `found ${blocks.length} safe examples`);
  const dir = await migrationsDir(
    t,
    Object.fromEntries(blocks.map((block, index) => [`${version(index)}_safe.sql`, block])),
  );
  const result = await offloop(['lint', '--dir', dir, ...NO_CONFIG_TIMEOUT, '--json']);
  t.is(result.code, EXIT_OK, result.stdout);
  t.deepEqual(parseResult(t, result).findings, []);
  const strict = await offloop(['lint', '--dir', dir, '--strict', ...NO_CONFIG_TIMEOUT]);
  t.is(strict.code, EXIT_OK, strict.stdout);
  t.regex(strict.stdout, /^No findings in \d+ SQL migrations; offline\.$/m);
});

test('connected, lint grades findings by table size: an empty table a note, a big one an error', async (t) => {
  const url = await createTestDatabase(t);
  let serverMajor = 0;
  await withPool(url, async (pool) => {
    serverMajor = Math.floor(
      Number(await pool.oneFirst(sql.unsafe`select current_setting('server_version_num')`)) /
        10_000,
    );
    await pool.query(sql.unsafe`create table small (a int)`);
    await pool.query(sql.unsafe`create table big (a int)`);
    await pool.query(sql.unsafe`insert into big select generate_series(1, 1000000)`);
    await pool.query(sql.unsafe`analyze big`);
  });
  const dir = await migrationsDir(t, {
    [`${version(0)}_small.sql`]: '-- migrate:up\ncreate index small_a on small (a);\n',
    [`${version(1)}_big.sql`]: '-- migrate:up\ncreate index big_a on big (a);\n',
    [`${version(2)}_later.sql`]: '-- migrate:up\ncreate table later (a int);\n',
    [`${version(3)}_new.sql`]: '-- migrate:up\ncreate index later_a on later (a);\n',
  });
  const result = await offloop(['lint', '--url', url, '--dir', dir, '--json']);
  t.is(result.code, EXIT_CODES.LINT_FAILED, result.stderr);
  const lint = parseResult(t, result);
  t.true(lint.live);
  t.is(lint.postgresVersion, serverMajor, "the connected server's version");
  t.deepEqual(
    lint.findings.map(({ table, severity, size }) => ({
      table,
      severity,
      rows: size?.rows ?? null,
    })),
    [
      { table: 'small', severity: 'note', rows: null },
      { table: 'big', severity: 'error', rows: 1_000_000 },
      // Created by an earlier pending migration: empty when this one runs.
      { table: 'later', severity: 'note', rows: null },
    ],
  );

  const human = await offloop(['lint', '--url', url, '--dir', dir], { cwd: dir });
  t.regex(human.stdout, /^ {2}= table: big, ~1\.0M rows, 34\.\d MB$/m);
});

test('up prints lint findings before it runs; --strict refuses with LINT_FAILED and runs nothing', async (t) => {
  const url = await createTestDatabase(t);
  await withPool(url, async (pool) => {
    await pool.query(sql.unsafe`create table accounts (id int, email text)`);
    // 20,000 rows: more than a small table, a warning.
    await pool.query(
      sql.unsafe`insert into accounts select n, 'x' from generate_series(1, 20000) n`,
    );
    await pool.query(sql.unsafe`analyze accounts`);
  });
  const dir = await migrationsDir(t, {
    [`${version(0)}_index.sql`]:
      '-- migrate:up\ncreate index accounts_email on accounts (email);\n',
  });
  const strict = await offloop(['up', '--url', url, '--dir', dir, '--strict'], { cwd: dir });
  t.is(strict.code, EXIT_CODES.LINT_FAILED, strict.stderr);
  t.regex(strict.stderr, /create-index-not-concurrent \[warning\]/);
  t.regex(strict.stderr, /^error\[LINT_FAILED\]/m);
  const check = await offloop(['check', '--url', url, '--dir', dir, '--lint', '{"strict": true}']);
  t.is(check.code, EXIT_CODES.LINT_FAILED, check.stderr);

  const up = await offloop(['up', '--url', url, '--dir', dir], { cwd: dir });
  t.is(up.code, EXIT_OK, up.stderr);
  t.regex(
    up.stderr,
    /^offloop: warning: 1 lint finding \(0 errors, 1 warning, 0 notes\) in the pending migrations; running anyway/m,
  );
  t.regex(
    up.stderr,
    new RegExp(`^${version(0)}_index\\.sql:2:32 create-index-not-concurrent \\[warning\\]`, 'm'),
  );
  t.regex(up.stdout, /^Applied 1 migration/m);
});
