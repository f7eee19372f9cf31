/**
 * The lint rules (`engine/lint/`) on real SQL, as PostgreSQL's parser reads it: each rule finds
 * its statement and stays quiet on the safe form, objects created in the same migration are
 * exempt, and comments and the configuration silence findings. Pure: the parser runs in-process
 * (WASM), with no database and no threads. Grading by table size is tested on its own function.
 */
import test from '../helpers/limited-test.ts';
import { parseSqlMigration } from '../../packages/core/src/files/sql-file.ts';
import type { LintSettings } from '../../packages/core/src/engine/lint/lint-file.ts';
import { lintMigration, newLintRun } from '../../packages/core/src/engine/lint/lint-file.ts';
import { lintMigrations } from '../../packages/core/src/engine/lint/lint-run.ts';
import { parseConfig } from '../../packages/core/src/config/config.ts';
import { severityForSize } from '../../packages/core/src/engine/lint/live.ts';
import { loadParser } from '../../packages/core/src/engine/parse/parser.ts';
import type { SqlMigrationFile } from '../../packages/core/src/model/migration.ts';

test.before(async () => {
  await loadParser();
});

const SETTINGS: LintSettings = { postgresVersion: null, configLockTimeout: 0, levels: {} };

/** A SQL migration file of `source` (with its marker line). */
function migration(source: string, version = '20260101000000'): SqlMigrationFile {
  const file = `${version}_test.sql`;
  return {
    kind: 'sql',
    version,
    name: 'test',
    file,
    path: `/m/${file}`,
    checksum: '',
    source,
    ...parseSqlMigration(file, source),
  };
}

/** The rule ids found in `sql` (the body of a transactional migration unless it has its own marker). */
function rules(sql: string, settings: Partial<LintSettings> = {}): string[] {
  const source = sql.includes('-- migrate:up') ? sql : `-- migrate:up\n${sql}\n`;
  return lintMigration(migration(source), { ...SETTINGS, ...settings }).map(
    ({ finding }) => finding.rule,
  );
}

test('each rule finds its statement', (t) => {
  const expected: Record<string, string[]> = {
    'create index i on t (a);': ['create-index-not-concurrent'],
    'drop index i;': ['drop-index-not-concurrent'],
    'reindex table t;': ['reindex-not-concurrent'],
    'reindex index i;': ['reindex-not-concurrent'],
    'alter table t add constraint f foreign key (a) references u (id);': ['foreign-key-not-valid'],
    'alter table t add column u_id bigint references u (id);': ['foreign-key-not-valid'],
    'alter table t add constraint c check (a > 0);': ['check-not-valid'],
    'alter table t alter column a set not null;': ['set-not-null-without-check'],
    'alter table t add constraint k unique (a);': ['unique-without-index'],
    'alter table t add primary key (a);': ['unique-without-index'],
    'alter table t alter column a type bigint;': ['column-type-change'],
    'alter table t add column b uuid default gen_random_uuid();': ['volatile-default'],
    'alter table t add column b bigserial;': ['volatile-default'],
    'alter table t add column b bigint generated always as identity;': ['volatile-default'],
    'alter table t rename column a to b;': ['rename-column'],
    'alter table t rename to u;': ['rename-table'],
    'alter table t drop column a;': ['drop-column'],
    'drop table t;': ['drop-table'],
    'vacuum full t;': ['vacuum-full'],
    'cluster t using i;': ['cluster'],
    'lock table t;': ['lock-table'],
    'truncate t;': ['truncate'],
    'refresh materialized view v;': ['refresh-materialized-view-not-concurrent'],
    'alter table t add column b text; update t set b = a;': ['exclusive-lock-then-more'],
    "-- migrate:up transaction:false\nalter type s add value 'y';": ['missing-lock-timeout'],
  };
  t.deepEqual(Object.fromEntries(Object.keys(expected).map((sql) => [sql, rules(sql)])), expected);
});

test('the safe forms find nothing', (t) => {
  const safe = [
    '-- migrate:up transaction:false lock_timeout:2s\ncreate index concurrently i on t (a);',
    '-- migrate:up transaction:false lock_timeout:2s\ndrop index concurrently i;',
    "-- migrate:up transaction:false\nset lock_timeout = '2s';\nreindex index concurrently i;",
    'alter table t add constraint f foreign key (a) references u (id) not valid;',
    'alter table t validate constraint f;',
    'alter table t add constraint c check (a > 0) not valid;',
    'alter table t add constraint k unique using index k;',
    "alter table t add column b text default 'x';",
    'alter table t add column b timestamptz default now();',
    "alter table t add column b text; alter table t alter column b set default 'x'; comment on column t.b is 'b';",
    'alter table t set (fillfactor = 90); update t set a = 1;',
    'vacuum t;',
    "alter type e add value 'x';",
    'alter table t add constraint n check (a is not null) not valid;\nalter table t validate constraint n;\nalter table t alter column a set not null;',
  ];
  t.deepEqual(
    safe.map((sql) => [sql, rules(sql)]),
    safe.map((sql) => [sql, []]),
  );
});

test('objects created earlier in the same migration are exempt', (t) => {
  t.deepEqual(
    rules(
      'create table t (a int); create index i on t (a); alter table t add constraint c check (a > 0);\n' +
        'alter table t alter column a set not null; alter table t rename column a to b; drop index i; ' +
        'create table u as select 1 as x; truncate u; alter table t drop column b; drop table t;',
    ),
    [],
  );
});

test('a validated not-null check from an earlier migration of the run lets SET NOT NULL pass', (t) => {
  const run = newLintRun();
  const first = migration(
    '-- migrate:up\nalter table t add constraint n check (a is not null) not valid;\n',
    '20260101000000',
  );
  const second = migration(
    '-- migrate:up\nalter table t validate constraint n;\n',
    '20260101000001',
  );
  const third = migration(
    '-- migrate:up\nalter table t alter column a set not null;\n',
    '20260101000002',
  );
  t.deepEqual(
    [first, second, third].flatMap((file) => lintMigration(file, SETTINGS, run)),
    [],
  );
  t.deepEqual(rules('alter table t alter column a set not null;', { postgresVersion: 11 }), [
    'set-not-null-without-check',
  ]);
});

test('version-dependent rules follow the assumed PostgreSQL version', (t) => {
  const enumValue = "alter type e add value 'x';";
  t.deepEqual(rules(enumValue, { postgresVersion: 11 }), ['enum-value-in-transaction']);
  t.deepEqual(rules(enumValue, { postgresVersion: 12 }), []);
  t.deepEqual(
    rules(`-- migrate:up transaction:false lock_timeout:1s\n${enumValue}`, { postgresVersion: 11 }),
    [],
  );
  const constantDefault = "alter table t add column b text default 'x';";
  t.deepEqual(rules(constantDefault, { postgresVersion: 10 }), ['volatile-default']);
  t.deepEqual(rules(constantDefault), []);
});

test('a configured statementLockTimeout satisfies missing-lock-timeout', (t) => {
  const sql = "-- migrate:up transaction:false\nalter type s add value 'y';";
  t.deepEqual(rules(sql, { configLockTimeout: 2000 }), []);
});

test('concurrent index builds and drops need no lock_timeout: a timeout would only fail the build', (t) => {
  const sql =
    '-- migrate:up transaction:false\nset statement_timeout = 0;\n' +
    'create index concurrently i on t (a);\ndrop index concurrently if exists j;\n' +
    'reindex index concurrently k;';
  t.deepEqual(rules(sql), []);
});

test('findings point at file:line:column of the node they are about', (t) => {
  const source = '-- migrate:up\nselect 1;\n\n  create index i on accounts (a);\n';
  const [found] = lintMigration(migration(source), SETTINGS);
  t.like(found?.finding, {
    rule: 'create-index-not-concurrent',
    file: '20260101000000_test.sql',
    line: 4,
    column: 21,
    table: 'accounts',
    severity: 'warning',
  });
});

test('offloop-lint-ignore silences a statement or a file, and needs a known rule and a reason', (t) => {
  t.deepEqual(
    rules('-- offloop-lint-ignore truncate the table is a cache\ntruncate t; truncate u;'),
    // The second TRUNCATE is not silenced, and it runs while the first holds its lock.
    ['exclusive-lock-then-more', 'truncate'],
  );
  t.deepEqual(
    rules(
      '-- offloop-lint-ignore truncate,lock-table,exclusive-lock-then-more both are caches\n-- migrate:up\ntruncate t; lock table u;',
    ),
    [],
  );
  t.deepEqual(rules('-- offloop-lint-ignore truncate\ntruncate t;'), ['lint-ignore-invalid']);
  t.deepEqual(rules('-- offloop-lint-ignore no-such-rule because\ntruncate t;'), [
    'lint-ignore-invalid',
    'truncate',
  ]);
});

test('the configuration turns a rule off or sets its severity', (t) => {
  t.deepEqual(rules('truncate t;', { levels: { truncate: 'off' } }), []);
  const [found] = lintMigration(migration('-- migrate:up\ntruncate t;\n'), {
    ...SETTINGS,
    levels: { truncate: 'error' },
  });
  t.is(found?.finding.severity, 'error');
});

test('table size grades a finding: empty or small a note, big an error', (t) => {
  t.is(severityForSize(null), 'note');
  t.is(severityForSize({ rows: 0, bytes: 0 }), 'note');
  t.is(severityForSize({ rows: null, bytes: 8192 }), 'note');
  t.is(severityForSize({ rows: 50_000, bytes: 4_000_000 }), 'warning');
  t.is(severityForSize({ rows: 2_000_000, bytes: 100_000_000 }), 'error');
  t.is(severityForSize({ rows: null, bytes: 2 * 1024 ** 3 }), 'error');
});

test('linting one array of files again reuses its findings, each run choosing its own files', async (t) => {
  const config = parseConfig({ url: 'postgres://u@localhost/db' });
  const files = [
    migration('-- migrate:up\ncreate table t (id int);\n', '20260101000000'),
    migration('-- migrate:up\ncreate index t_id on t (id);\n', '20260101000001'),
    migration('-- migrate:up\nalter table t add column c int not null;\n', '20260101000002'),
  ];
  const all = await lintMigrations(config, files, null, null);
  const again = await lintMigrations(config, files, null, null);
  t.deepEqual(again, all);
  t.true(all.findings.length > 0);
  // Another run of the same files, for which only the last is pending, gets its findings alone.
  const last = await lintMigrations(config, files, new Set(['20260101000002']), null);
  t.is(last.files, 1);
  t.deepEqual(
    last.findings,
    all.findings.filter((finding) => finding.file === files[2]?.file),
  );
  // Other settings lint again.
  const ruleOff = await lintMigrations(
    { ...config, lint: { ...config.lint, rules: { 'create-index-not-concurrent': 'off' } } },
    files,
    null,
    null,
  );
  t.false(ruleOff.findings.some((finding) => finding.rule === 'create-index-not-concurrent'));
  t.true(all.findings.some((finding) => finding.rule === 'create-index-not-concurrent'));
});
