import test from 'ava';
import {
  MigrationFileNameError,
  MigrationFileUnreadableError,
  MigrationModuleError,
} from '@offloop/core';
import { discoverMigrations } from '@offloop/core/engine';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { loadMigrationModule } from '../../packages/core/src/engine/prepare/module-migration.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

async function dirWith(t: ExecutionContext, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'offloop-discover-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}

test('finds SQL and module migrations in order, with sections and checksums', async (t) => {
  const dir = await dirWith(t, {
    '20260102000000_two.ts': 'export async function up() {}',
    '20260101000000_one.sql':
      '-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n',
    'README.md': 'ignored',
    '.hidden.sql': 'ignored',
  });
  const files = await discoverMigrations(dir);
  t.deepEqual(
    files.map((f) => f.file),
    ['20260101000000_one.sql', '20260102000000_two.ts'],
  );
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

test('an upper-case extension is refused as a bad name, not skipped', async (t) => {
  const dir = await dirWith(t, { '20260101000000_users.SQL': '-- migrate:up\nselect 1;' });
  const error = await t.throwsAsync(discoverMigrations(dir), {
    code: 'MIGRATION_FILE_NAME_INVALID',
  });
  t.is(
    (error as { details?: { file?: string } } | undefined)?.details?.file,
    '20260101000000_users.SQL',
  );
});

test('a version that is not a real time is refused', async (t) => {
  const dir = await dirWith(t, { '20261399000000_x.sql': '-- migrate:up\nselect 1;' });
  await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_FILE_NAME_INVALID' });
});

test('a duplicate version is refused with both files', async (t) => {
  const dir = await dirWith(t, {
    '20260101000000_a.sql': '-- migrate:up\nselect 1;',
    '20260101000000_b.ts': 'export function up() {}',
  });
  const error = await t.throwsAsync(discoverMigrations(dir), {
    code: 'MIGRATION_VERSION_DUPLICATE',
  });
  t.deepEqual((error as unknown as { details: { files: string[] } }).details.files, [
    '20260101000000_a.sql',
    '20260101000000_b.ts',
  ]);
});

test('a SQL file without an up section is refused', async (t) => {
  const dir = await dirWith(t, { '20260101000000_a.sql': 'create table a (id int);' });
  await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_UP_MISSING' });
});

test('an unknown marker option is refused with its line', async (t) => {
  const dir = await dirWith(t, {
    '20260101000000_a.sql':
      '-- migrate:up\nselect 1;\n-- migrate:down transactoin:false\nselect 2;',
  });
  const error = await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_OPTION_INVALID' });
  t.like((error as unknown as { details: object }).details, { option: 'transactoin', line: 3 });
});

test('marker options are parsed: transaction, lock_timeout, statement_timeout, lock_retries, serial', async (t) => {
  const dir = await dirWith(t, {
    '20260101000000_a.sql':
      '-- migrate:up transaction:false lock_timeout:5s statement_timeout:10m lock_retries:3 serial:true\ncreate index concurrently i on a (id);',
  });
  const [file] = await discoverMigrations(dir);
  t.deepEqual(file?.kind === 'sql' ? file.up.options : null, {
    transaction: false,
    lockTimeout: 5000,
    statementTimeout: 600_000,
    lockRetries: 3,
    serial: true,
  });
});

test('a bad option value is refused', async (t) => {
  const dir = await dirWith(t, {
    '20260101000000_a.sql': '-- migrate:up lock_timeout:soon\nselect 1;',
  });
  await t.throwsAsync(discoverMigrations(dir), { code: 'MIGRATION_OPTION_INVALID' });
});

test('a missing directory is refused', async (t) => {
  await t.throwsAsync(discoverMigrations('/nonexistent/offloop'), {
    code: 'MIGRATIONS_DIR_NOT_FOUND',
  });
});

// Files are read exactly or refused (issue 9): what runs is what the file's bytes say.

async function emptyDir(t: ExecutionContext): Promise<string> {
  return dirWith(t, {});
}

type Unreadable = {
  file: string;
  reason: string;
  byteOffset: number | null;
  line: number | null;
  column: number | null;
};

async function unreadable(t: ExecutionContext, dir: string): Promise<Unreadable | undefined> {
  const error = await t.throwsAsync(discoverMigrations(dir), {
    instanceOf: MigrationFileUnreadableError,
    code: 'MIGRATION_FILE_UNREADABLE',
  });
  return error?.details;
}

test('a Latin-1 SQL file is refused with the offset of its first non-UTF-8 byte, not decoded to U+FFFD', async (t) => {
  const dir = await emptyDir(t);
  // "café" in Latin-1: é is the single byte 0xE9.
  const bytes = Buffer.concat([
    Buffer.from("-- migrate:up\ninsert into t values ('caf"),
    Buffer.from([0xe9]),
    Buffer.from("');\n"),
  ]);
  await writeFile(join(dir, '20260101000000_latin1.sql'), bytes);
  t.deepEqual(await unreadable(t, dir), {
    file: '20260101000000_latin1.sql',
    reason: 'invalid-utf8',
    byteOffset: bytes.indexOf(0xe9),
    line: 2,
    column: "insert into t values ('caf".length + 1,
  });
});

test('ill-formed UTF-8 of every kind is refused at its first byte: truncated, overlong, surrogate, stray continuation', async (t) => {
  const prefix = Buffer.from("-- migrate:up\nselect 'é', '");
  const cases: [string, number[]][] = [
    ['truncated', [0xe2, 0x82]],
    ['overlong', [0xc0, 0xaf]],
    ['surrogate', [0xed, 0xa0, 0x80]],
    ['stray continuation', [0x80]],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ];
  for (const [what, bad] of cases) {
    const dir = await emptyDir(t);
    await writeFile(
      join(dir, '20260101000000_bad.sql'),
      Buffer.concat([prefix, Buffer.from(bad), Buffer.from("';\n")]),
    );
    const details = await unreadable(t, dir);
    // Columns count UTF-16 units of the decoded line, as elsewhere: é is one.
    t.like(
      details,
      {
        reason: 'invalid-utf8',
        byteOffset: prefix.length,
        line: 2,
        column: "select 'é', '".length + 1,
      },
      what,
    );
  }
});

test('a NUL byte in a SQL file is refused with its offset, instead of the parser dropping the rest of the file', async (t) => {
  const dir = await emptyDir(t);
  const text = '-- migrate:up\ncreate table a (id int);\0\ncreate table b (id int);\n';
  await writeFile(join(dir, '20260101000000_nul.sql'), text);
  t.deepEqual(await unreadable(t, dir), {
    file: '20260101000000_nul.sql',
    reason: 'nul-byte',
    byteOffset: text.indexOf('\0'),
    line: 2,
    column: 'create table a (id int);'.length + 1,
  });
});

test('a UTF-8 byte order mark is accepted and left out of the SQL; the checksum is still of the bytes', async (t) => {
  const dir = await emptyDir(t);
  const bytes = Buffer.concat([
    Buffer.from([0xef, 0xbb, 0xbf]),
    Buffer.from('-- migrate:up\ncreate table café (id int);\n-- migrate:down\ndrop table café;\n'),
  ]);
  await writeFile(join(dir, '20260101000000_bom.sql'), bytes);
  const [file] = await discoverMigrations(dir);
  t.is(file?.kind, 'sql');
  if (file?.kind !== 'sql') return;
  t.is(file.source.charCodeAt(0), '-'.charCodeAt(0));
  t.is(file.up.sql.trim(), 'create table café (id int);');
  t.is(file.down?.sql.trim(), 'drop table café;');
  t.is(file.checksum, createHash('sha256').update(bytes).digest('hex'));
});

test('a byte order mark does not shift the column of a bad byte on the first line', async (t) => {
  const dir = await emptyDir(t);
  await writeFile(
    join(dir, '20260101000000_bom.sql'),
    Buffer.from([0xef, 0xbb, 0xbf, 0x2d, 0x2d, 0x00]),
  );
  t.like(await unreadable(t, dir), { reason: 'nul-byte', byteOffset: 5, line: 1, column: 3 });
});

test('a module migration that is not UTF-8 is refused too (Node would decode it to U+FFFD)', async (t) => {
  const dir = await emptyDir(t);
  const prefix = "export const note = 'caf";
  await writeFile(
    join(dir, '20260101000000_latin1.ts'),
    Buffer.concat([
      Buffer.from(prefix),
      Buffer.from([0xe9]),
      Buffer.from("';\nexport async function up() {}\n"),
    ]),
  );
  t.like(await unreadable(t, dir), {
    file: '20260101000000_latin1.ts',
    reason: 'invalid-utf8',
    byteOffset: prefix.length,
    line: 1,
    column: prefix.length + 1,
  });
});

test("a dangling symbolic link with a migration's name is an error naming it, not skipped", async (t) => {
  const dir = await dirWith(t, { '20260101000000_ok.sql': '-- migrate:up\nselect 1;\n' });
  await symlink(join(dir, 'gone.sql'), join(dir, '20260102000000_gone.sql'));
  t.deepEqual(await unreadable(t, dir), {
    file: '20260102000000_gone.sql',
    reason: 'dangling-symlink',
    byteOffset: null,
    line: null,
    column: null,
  });
});

test("a symbolic link loop with a migration's name is an error naming it", async (t) => {
  const dir = await emptyDir(t);
  await symlink(join(dir, '20260101000000_b.sql'), join(dir, '20260101000000_a.sql'));
  await symlink(join(dir, '20260101000000_a.sql'), join(dir, '20260101000000_b.sql'));
  t.like(await unreadable(t, dir), { file: '20260101000000_a.sql', reason: 'symlink-loop' });
});

test("a directory with a migration's name is an error naming it; other directories are skipped", async (t) => {
  const dir = await dirWith(t, { '20260101000000_ok.sql': '-- migrate:up\nselect 1;\n' });
  await mkdir(join(dir, 'archive'));
  t.is((await discoverMigrations(dir)).length, 1);
  await mkdir(join(dir, '20260102000000_dir.sql'));
  t.like(await unreadable(t, dir), { file: '20260102000000_dir.sql', reason: 'directory' });
});

test("a symbolic link to a directory, or a FIFO, with a migration's name is an error naming it", async (t) => {
  const linked = await emptyDir(t);
  await symlink(tmpdir(), join(linked, '20260101000000_dir.ts'));
  t.like(await unreadable(t, linked), { file: '20260101000000_dir.ts', reason: 'directory' });
  const fifo = await emptyDir(t);
  execFileSync('mkfifo', [join(fifo, '20260101000000_pipe.sql')]);
  t.like(await unreadable(t, fifo), {
    file: '20260101000000_pipe.sql',
    reason: 'not-a-regular-file',
  });
});

test('a symbolic link to a migration file still counts as that file', async (t) => {
  const dir = await dirWith(t, { 'shared.txt': '-- migrate:up\nselect 1;\n' });
  await symlink(join(dir, 'shared.txt'), join(dir, '20260101000000_linked.sql'));
  t.deepEqual(
    (await discoverMigrations(dir)).map((file) => file.file),
    ['20260101000000_linked.sql'],
  );
});

// As root, chmod 000 does not stop a read: the case cannot be set up there.
const asRoot = process.getuid?.() === 0;
(asRoot ? test.skip : test)(
  `a migration file without read permission is an error naming it${asRoot ? ' (skipped: running as root, which reads any file)' : ''}`,
  async (t) => {
    const dir = await dirWith(t, { '20260101000000_secret.sql': '-- migrate:up\nselect 1;\n' });
    await chmod(join(dir, '20260101000000_secret.sql'), 0o000);
    t.like(await unreadable(t, dir), {
      file: '20260101000000_secret.sql',
      reason: 'permission-denied',
    });
  },
);

test('.cjs and .cts files are module migrations; .d.cts and .d.mts files are ignored', async (t) => {
  const dir = await dirWith(t, {
    '20260101000000_one.cjs': 'exports.up = async () => {};',
    '20260102000000_two.cts': 'exports.up = async (): Promise<void> => {};',
    '20260103000000_three.d.cts': 'export {};',
    'types.d.mts': 'export {};',
  });
  t.deepEqual(
    (await discoverMigrations(dir)).map((file) => [file.file, file.kind]),
    [
      ['20260101000000_one.cjs', 'module'],
      ['20260102000000_two.cts', 'module'],
    ],
  );
  const badName = await dirWith(t, { 'backfill.cjs': 'exports.up = async () => {};' });
  await t.throwsAsync(discoverMigrations(badName), {
    instanceOf: MigrationFileNameError,
    code: 'MIGRATION_FILE_NAME_INVALID',
  });
});

test('a .cjs or .cts migration loads through module.exports, options included, and an edited one is loaded afresh', async (t) => {
  const dir = await dirWith(t, {
    '20260101000000_one.cjs':
      "module.exports = { up: async () => 'one', lockTimeout: '5s', transaction: false };",
    '20260102000000_two.cts':
      "const answer: string = 'two';\nexports.up = async (): Promise<string> => answer;\nexports.statementTimeout = 1000;\n",
  });
  const [one, two] = await discoverMigrations(dir);
  if (one?.kind !== 'module' || two?.kind !== 'module') return t.fail('not module migrations');
  const loadedOne = await loadMigrationModule(one);
  t.deepEqual(loadedOne.options, {
    transaction: false,
    lockTimeout: 5000,
    statementTimeout: null,
    lockRetries: null,
    serial: false,
  });
  const loadedTwo = await loadMigrationModule(two);
  t.deepEqual(loadedTwo.options, {
    transaction: true,
    lockTimeout: null,
    statementTimeout: 1000,
    lockRetries: null,
    serial: false,
  });
  t.is(await (loadedTwo.up as unknown as () => Promise<string>)(), 'two');
  // CommonJS caches by file name whatever the URL says: an edited file must not run as it was.
  await writeFile(
    join(dir, '20260102000000_two.cts'),
    "exports.up = async (): Promise<string> => 'edited';\n",
  );
  const [, edited] = await discoverMigrations(dir);
  if (edited?.kind !== 'module') return t.fail('not a module migration');
  t.is(
    await ((await loadMigrationModule(edited)).up as unknown as () => Promise<string>)(),
    'edited',
  );
});

test('a .cts file written with ESM export syntax fails to load as MIGRATION_MODULE_INVALID', async (t) => {
  const dir = await dirWith(t, {
    '20260101000000_esm.cts': 'export async function up(): Promise<void> {}\n',
  });
  const [file] = await discoverMigrations(dir);
  if (file?.kind !== 'module') return t.fail('not a module migration');
  await t.throwsAsync(loadMigrationModule(file), {
    instanceOf: MigrationModuleError,
    code: 'MIGRATION_MODULE_INVALID',
  });
});

/** Load the one migration in `dir` and return its load failure. */
async function loadFailure(t: ExecutionContext, dir: string): Promise<MigrationModuleError> {
  const [file] = await discoverMigrations(dir);
  if (file?.kind !== 'module') throw new Error('not a module migration');
  const error = await t.throwsAsync(loadMigrationModule(file), {
    instanceOf: MigrationModuleError,
    code: 'MIGRATION_MODULE_INVALID',
  });
  if (error === undefined) throw new Error('loaded');
  return error;
}

test('a .ts or .js migration with ESM syntax under "type": "commonjs" fails with a hint naming the package.json', async (t) => {
  const root = await dirWith(t, { 'package.json': '{ "type": "commonjs" }' });
  const cases = [
    ['20260101000000_x.ts', 'export async function up(): Promise<void> {}\n', '.mts'],
    ['20260101000000_x.ts', "import { join } from 'node:path';\nexports.up = join;\n", '.mts'],
    ['20260101000000_x.js', 'export async function up() {}\n', '.mjs'],
  ] as const;
  for (const [index, [file, source, renamed]] of cases.entries()) {
    const dir = join(root, `case${index}`);
    await mkdir(dir);
    await writeFile(join(dir, file), source);
    const error = await loadFailure(t, dir);
    t.is(error.details.file, file);
    t.true(
      error.message.includes(
        `because ${join(root, 'package.json')} has "type": "commonjs": rename it to ` +
          `20260101000000_x${renamed}, or set "type": "module" in that package.json)`,
      ),
      error.message,
    );
  }
});

test('no module-system hint for a real syntax error, or where Node guessed the type from the syntax', async (t) => {
  const root = await dirWith(t, { 'package.json': '{ "type": "commonjs" }' });
  await mkdir(join(root, 'cjs'));
  await writeFile(join(root, 'cjs', '20260101000000_x.js'), 'const = 1;\n');
  t.notRegex((await loadFailure(t, join(root, 'cjs'))).message, /package\.json/);
  // No package.json above: Node takes ESM syntax as an ES module, so a failure is something else.
  const bare = await dirWith(t, {
    '20260101000000_x.ts': "import { nothing } from 'node:path';\nexport const up = nothing;\n",
  });
  t.notRegex((await loadFailure(t, bare)).message, /package\.json/);
});

test('a .ts migration written as CommonJS under "type": "module" fails with a hint to rename it .cts', async (t) => {
  const root = await migrationsDir(t, {
    'package.json': '{ "type": "module" }',
    'db/20260101000000_x.ts': 'exports.up = async (): Promise<void> => {};\n',
  });
  const error = await loadFailure(t, join(root, 'db'));
  t.regex(error.message, /exports is not defined in ES module scope/);
  t.true(
    error.message.includes(
      `because ${join(root, 'package.json')} has "type": "module": write ` +
        '`export async function up(ctx)`, or rename it to 20260101000000_x.cts)',
    ),
    error.message,
  );
});

test('.mts and .cts migrations load under a "type": "commonjs" package.json, and .mts under "type": "module"', async (t) => {
  for (const type of ['commonjs', 'module']) {
    const root = await migrationsDir(t, {
      'package.json': JSON.stringify({ type }),
      'db/20260101000000_one.mts':
        "import type { MigrationContext } from 'offloop';\nexport async function up(_ctx: MigrationContext): Promise<string> { return 'mts'; }\n",
      'db/20260102000000_two.cts':
        "import type { MigrationContext } from 'offloop';\nexports.up = async (_ctx: MigrationContext): Promise<string> => 'cts';\n",
    });
    const results: string[] = [];
    for (const file of await discoverMigrations(join(root, 'db'))) {
      if (file.kind !== 'module') return t.fail('not a module migration');
      const { up } = await loadMigrationModule(file);
      results.push(await (up as unknown as () => Promise<string>)());
    }
    t.deepEqual(results, ['mts', 'cts'], type);
  }
});
