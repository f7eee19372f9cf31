/**
 * The offline SQL script (`sql/offline.ts` `renderScript`) and the transactional script it shares
 * with the batched apply (`sql/script.ts` `transactionScript`), as exact text: transaction
 * boundaries, `set` / `set local` settings, version-table rows, up and down. Pure: no database,
 * no threads. `lifecycle.test.ts` runs such a script through psql.
 */
import test from '../helpers/limited-test.ts';
import { parseConfig, type ResolvedConfig } from '@offloop/core';
import type { SectionOptions, SqlMigrationFile } from '../../packages/core/src/model/migration.ts';
import type { Prepared, Statement } from '../../packages/core/src/model/prepared.ts';
import { logTableDdl, versionTableDdl, versionTableOf } from '../../packages/core/src/sql/ddl.ts';
import { renderScript } from '../../packages/core/src/sql/offline.ts';
import { terminate, transactionScript } from '../../packages/core/src/sql/script.ts';

const URL = 'postgres://nobody@127.0.0.1:1/none';
const CONFIG = parseConfig({ url: URL, schema: 'ops', table: 'versions' });
const LEDGER = versionTableOf(CONFIG);
const TRANSACTIONAL: SectionOptions = {
  transaction: true,
  lockTimeout: null,
  statementTimeout: null,
  lockRetries: null,
  serial: false,
};

/** Statements as the splitter makes them; only `sql` matters to the scripts. */
const statements = (...sql: string[]): Statement[] =>
  sql.map((text) => ({ sql: text, offset: 0, line: 1, column: 1, kind: 'Unknown', node: {} }));

/** A SQL migration file; its sections are not read by the scripts. */
const migration = (version: string, name: string): SqlMigrationFile => ({
  kind: 'sql',
  version,
  name,
  file: `${version}_${name}.sql`,
  path: `/m/${version}_${name}.sql`,
  checksum: `sum-${version.slice(6, 8)}`,
  source: '',
  up: { sql: '', offset: 0, options: TRANSACTIONAL },
  down: null,
});

const USERS = migration('20260101000000', "o'brien");
const INDEX = migration('20260102000000', 'index');

/** The script with its `-- Generated <time>.` line checked and made constant. */
function render(
  config: ResolvedConfig,
  items: readonly Prepared[],
  header: Parameters<typeof renderScript>[2],
): string {
  const script = renderScript(config, items, header);
  const generated =
    /^-- Generated \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\. Run with: psql -v ON_ERROR_STOP=1 -f <this file>$/m;
  if (!generated.test(script)) throw new Error(`no Generated line in:\n${script}`);
  return script.replace(generated, '-- Generated <time>.');
}

test('terminate adds the semicolon, on a line of its own after a trailing line comment', (t) => {
  t.is(terminate('select 1'), 'select 1;');
  t.is(terminate('select 1 -- one'), 'select 1 -- one\n;');
  t.is(terminate('select 1 -- one\nfrom t'), 'select 1 -- one\nfrom t;');
  t.is(terminate('select 1\nfrom t -- last'), 'select 1\nfrom t -- last\n;');
});

test('transactionScript: begin, set local settings, the statements, the records, commit, with where each statement starts', (t) => {
  const script = transactionScript(
    statements('create table a (id int)', 'insert into a values (1) -- one'),
    ["lock_timeout = '5000ms'", "statement_timeout = '60000ms'"],
    ['record one;', 'record two;'],
  );
  t.is(
    script.text,
    [
      'begin;',
      "set local lock_timeout = '5000ms';",
      "set local statement_timeout = '60000ms';",
      'create table a (id int);',
      'insert into a values (1) -- one',
      ';',
      'record one;',
      'record two;',
      'commit;',
      '',
    ].join('\n'),
  );
  t.is(script.before, 3);
  t.deepEqual(script.starts, [83, 108]);
  t.true(script.text.startsWith('create table a', 83));
  t.true(script.text.startsWith('insert into a', 108));
});

test('transactionScript with no settings and no statements is begin, the records and commit', (t) => {
  const script = transactionScript(statements('select 1'), [], ['record;']);
  t.deepEqual(script, { text: 'begin;\nselect 1;\nrecord;\ncommit;\n', before: 1, starts: [7] });
  t.deepEqual(transactionScript([], [], []), { text: 'begin;\ncommit;\n', before: 1, starts: [] });
});

test('renderScript up: the tables, then a transactional and a non-transactional migration with their version rows', (t) => {
  const items: Prepared[] = [
    {
      migration: USERS,
      direction: 'up',
      options: TRANSACTIONAL,
      statements: statements('create table users (id int)', 'insert into users values (1)'),
    },
    {
      migration: INDEX,
      direction: 'up',
      options: {
        transaction: false,
        lockTimeout: 5000,
        statementTimeout: null,
        lockRetries: null,
        serial: false,
      },
      statements: statements('create index concurrently i on users (id)'),
    },
  ];
  const script = render(CONFIG, items, { direction: 'up', from: null, to: INDEX.version });
  t.is(
    script,
    [
      '-- offloop up: from base to 20260102000000, 2 migrations',
      '-- Generated <time>.',
      '',
      'create schema if not exists "ops";',
      `${versionTableDdl(LEDGER)};`,
      `${logTableDdl(LEDGER)};`,
      '',
      'set search_path = "ops", public;',
      '',
      "-- 20260101000000_o'brien.sql (up)",
      'begin;',
      'create table users (id int);',
      'insert into users values (1);',
      `insert into "ops"."versions" (version, name, checksum, duration_ms, applied_by) values ('20260101000000', 'o''brien', 'sum-01', 0, current_user);`,
      `insert into "ops"."versions_log" (version, name, direction, checksum, outcome, applied_by, duration_ms) values ('20260101000000', 'o''brien', 'up', 'sum-01', 'succeeded', current_user, null);`,
      'commit;',
      '',
      '-- 20260102000000_index.sql (up, transaction:false)',
      "set lock_timeout = '5000ms';",
      'create index concurrently i on users (id);',
      'reset lock_timeout;',
      'reset statement_timeout;',
      'begin;',
      `insert into "ops"."versions" (version, name, checksum, duration_ms, applied_by) values ('20260102000000', 'index', 'sum-02', 0, current_user);`,
      `insert into "ops"."versions_log" (version, name, direction, checksum, outcome, applied_by, duration_ms) values ('20260102000000', 'index', 'up', 'sum-02', 'succeeded', current_user, null);`,
      'commit;',
      '',
      '',
    ].join('\n'),
  );
  t.true(versionTableDdl(LEDGER).startsWith('create table if not exists "ops"."versions" ('));
  t.true(logTableDdl(LEDGER).startsWith('create table if not exists "ops"."versions_log" ('));
});

test('renderScript down: no tables, the down statements, then the version row deleted and the log row', (t) => {
  const config = parseConfig({ url: URL, statementTimeout: '1m' });
  const items: Prepared[] = [
    {
      migration: INDEX,
      direction: 'down',
      options: {
        transaction: false,
        lockTimeout: null,
        statementTimeout: null,
        lockRetries: null,
        serial: false,
      },
      statements: statements('drop index concurrently i'),
    },
    {
      migration: USERS,
      direction: 'down',
      options: {
        transaction: true,
        lockTimeout: 2000,
        statementTimeout: null,
        lockRetries: null,
        serial: false,
      },
      statements: statements('drop table users -- bye'),
    },
  ];
  const script = render(config, items, { direction: 'down', from: INDEX.version, to: null });
  t.is(
    script,
    [
      '-- offloop down: from 20260102000000 to base, 2 migrations',
      '-- Generated <time>.',
      '',
      'set search_path = public;',
      '',
      '-- 20260102000000_index.sql (down, transaction:false)',
      "set statement_timeout = '60000ms';",
      'drop index concurrently i;',
      'reset lock_timeout;',
      'reset statement_timeout;',
      'begin;',
      `delete from "public"."offloop_migrations" where version = '20260102000000';`,
      `insert into "public"."offloop_migrations_log" (version, name, direction, checksum, outcome, applied_by, duration_ms) values ('20260102000000', 'index', 'down', 'sum-02', 'succeeded', current_user, null);`,
      'commit;',
      '',
      "-- 20260101000000_o'brien.sql (down)",
      'begin;',
      "set local lock_timeout = '2000ms';",
      "set local statement_timeout = '60000ms';",
      'drop table users -- bye',
      ';',
      `delete from "public"."offloop_migrations" where version = '20260101000000';`,
      `insert into "public"."offloop_migrations_log" (version, name, direction, checksum, outcome, applied_by, duration_ms) values ('20260101000000', 'o''brien', 'down', 'sum-01', 'succeeded', current_user, null);`,
      'commit;',
      '',
      '',
    ].join('\n'),
  );
});

test('renderScript: one migration is singular; a non-transactional one with no timeouts resets nothing; modules are left out', (t) => {
  const items: Prepared[] = [
    {
      migration: INDEX,
      direction: 'down',
      options: {
        transaction: false,
        lockTimeout: null,
        statementTimeout: null,
        lockRetries: null,
        serial: false,
      },
      statements: statements('drop index concurrently i'),
    },
    {
      migration: { ...USERS, kind: 'module', file: '20260101000000_users.ts' },
      direction: 'down',
      options: TRANSACTIONAL,
      run: () => Promise.resolve(),
    },
  ];
  const script = render(CONFIG, items.slice(0, 1), {
    direction: 'down',
    from: INDEX.version,
    to: USERS.version,
  });
  t.is(
    script,
    [
      '-- offloop down: from 20260102000000 to 20260101000000, 1 migration',
      '-- Generated <time>.',
      '',
      'set search_path = "ops", public;',
      '',
      '-- 20260102000000_index.sql (down, transaction:false)',
      'drop index concurrently i;',
      'begin;',
      `delete from "ops"."versions" where version = '20260102000000';`,
      `insert into "ops"."versions_log" (version, name, direction, checksum, outcome, applied_by, duration_ms) values ('20260102000000', 'index', 'down', 'sum-02', 'succeeded', current_user, null);`,
      'commit;',
      '',
      '',
    ].join('\n'),
  );
  const withModule = render(CONFIG, items, {
    direction: 'down',
    from: INDEX.version,
    to: USERS.version,
  });
  t.is(withModule.replace(', 2 migrations', ', 1 migration'), script);
});

test('renderScript with migrationsSchema: both schemas created, the ledger in its own, the search_path on the run schema', (t) => {
  const config = parseConfig({ url: URL, schema: 'tenant_a', migrationsSchema: 'ops' });
  const script = render(config, [], { direction: 'up', from: null, to: null });
  const ledger = versionTableOf(config);
  t.deepEqual(ledger, { schema: 'ops', table: 'offloop_migrations' });
  t.is(
    script,
    [
      '-- offloop up: from base to base, 0 migrations',
      '-- Generated <time>.',
      '',
      'create schema if not exists "tenant_a";',
      'create schema if not exists "ops";',
      `${versionTableDdl(ledger)};`,
      `${logTableDdl(ledger)};`,
      '',
      'set search_path = "tenant_a", public;',
      '',
      '',
    ].join('\n'),
  );
});
