import test from 'ava';
import { discoverMigrations } from '@offloop/core/engine';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

async function dirWith(t: ExecutionContext, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'offloop-discover-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}

test('finds SQL and module migrations in order, with sections and checksums', async (t) => {
  const dir = await dirWith(t, {
    '20260102000000_two.ts': 'export async function up() {}',
    '20260101000000_one.sql': '-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n',
    'README.md': 'ignored',
    '.hidden.sql': 'ignored',
  });
  const files = await discoverMigrations(dir);
  t.deepEqual(files.map((f) => f.file), ['20260101000000_one.sql', '20260102000000_two.ts']);
  const [one] = files;
  t.is(one?.kind, 'sql');
  if (one?.kind !== 'sql') return;
  t.is(one.up.sql.trim(), 'create table a (id int);');
  t.is(one.down?.sql.trim(), 'drop table a;');
  t.regex(one.checksum, /^[0-9a-f]{64}$/);
});

test('a bad file name is refused', async (t) => {
  const dir = await dirWith(t, { 'add_users.sql': '-- migrate:up\nselect 1;' });
  await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_FILE_NAME_INVALID' });
});

test('a version that is not a real time is refused', async (t) => {
  const dir = await dirWith(t, { '20261399000000_x.sql': '-- migrate:up\nselect 1;' });
  await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_FILE_NAME_INVALID' });
});

test('a duplicate version is refused with both files', async (t) => {
  const dir = await dirWith(t, { '20260101000000_a.sql': '-- migrate:up\nselect 1;', '20260101000000_b.ts': 'export function up() {}' });
  const error = await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_VERSION_DUPLICATE' });
  t.deepEqual((error as unknown as { details: { files: string[] } }).details.files, ['20260101000000_a.sql', '20260101000000_b.ts']);
});

test('a SQL file without an up section is refused', async (t) => {
  const dir = await dirWith(t, { '20260101000000_a.sql': 'create table a (id int);' });
  await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_UP_MISSING' });
});

test('an unknown marker option is refused with its line', async (t) => {
  const dir = await dirWith(t, { '20260101000000_a.sql': '-- migrate:up\nselect 1;\n-- migrate:down transactoin:false\nselect 2;' });
  const error = await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_OPTION_INVALID' });
  t.like((error as unknown as { details: object }).details, { option: 'transactoin', line: 3 });
});

test('marker options are parsed: transaction, lock_timeout, statement_timeout', async (t) => {
  const dir = await dirWith(t, { '20260101000000_a.sql': '-- migrate:up transaction:false lock_timeout:5s statement_timeout:10m\ncreate index concurrently i on a (id);' });
  const [file] = await discoverMigrations(dir);
  t.deepEqual(file?.kind === 'sql' ? file.up.options : null, { transaction: false, lockTimeout: 5000, statementTimeout: 600_000 });
});

test('a bad option value is refused', async (t) => {
  const dir = await dirWith(t, { '20260101000000_a.sql': '-- migrate:up lock_timeout:soon\nselect 1;' });
  await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_OPTION_INVALID' });
});

test('a missing directory is refused', async (t) => {
  await t.throwsAsync(discoverMigrations('/nonexistent/offloop'), { code: 'MIGRATIONS_DIR_NOT_FOUND' });
});
