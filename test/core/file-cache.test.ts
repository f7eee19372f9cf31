import test from 'ava';
import type { ExecutionContext } from 'ava';
import { discoverMigrations } from '@offloop/core/engine';
import type { MigrationFile } from '@offloop/core';
import { createHash } from 'node:crypto';
import {
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cacheSettingsFromEnv,
  FileCache,
  isSettled,
  RACY_MARGIN_MS,
  threadFileCache,
} from '../../packages/core/src/files/file-cache.ts';

const ONE = '20260101000000_one.sql';
const TWO = '20260102000000_two.sql';
const THREE = '20260103000000_three.ts';

const sql = (table: string) =>
  `-- migrate:up transaction:false\ncreate table ${table} (id int);\n-- migrate:down\ndrop table ${table};\n`;

async function tempDir(t: ExecutionContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A migrations directory, and a cache in its own directory. */
async function setup(
  t: ExecutionContext,
  files: Record<string, string> = { [ONE]: sql('a'), [TWO]: sql('b'), [THREE]: 'export {}' },
): Promise<{ dir: string; cacheDir: string }> {
  const dir = await tempDir(t, 'offloop-cache-dir-');
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return { dir, cacheDir: await tempDir(t, 'offloop-cache-') };
}

/**
 * A cache whose clock runs ahead: files just written count as settled (older than the racy
 * margin), as a real project's files are. Only the racy tests use the real clock.
 */
const ahead = (cacheDir: string | null) =>
  new FileCache({ dir: cacheDir, now: () => Date.now() + 10 * RACY_MARGIN_MS });

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const byFile = (files: readonly MigrationFile[], file: string) => {
  const found = files.find((each) => each.file === file);
  if (found === undefined) throw new Error(`${file} not found`);
  return found;
};

/** The one cache file in `cacheDir`. */
async function cacheFile(cacheDir: string): Promise<string> {
  const names = (await readdir(cacheDir)).filter((name) => name.endsWith('.json'));
  if (names.length !== 1) throw new Error(`expected one cache file, found ${names.join(', ')}`);
  return join(cacheDir, names[0] ?? '');
}

/** Rewrite the cache file's checksum for `file`: a hit then returns it, unread. */
async function plantChecksum(cacheDir: string, file: string, checksum: string): Promise<void> {
  const path = await cacheFile(cacheDir);
  const content = JSON.parse(await readFile(path, 'utf8')) as {
    files: Record<string, unknown[]>;
  };
  const entry = content.files[file];
  if (entry === undefined) throw new Error(`${file} not cached`);
  entry[5] = checksum;
  await writeFile(path, JSON.stringify(content));
}

test('a file unchanged since it was hashed is not read again: its checksum comes from the cache', async (t) => {
  const { dir, cacheDir } = await setup(t);
  const first = await discoverMigrations(dir, { cache: ahead(cacheDir) });
  const planted = 'f'.repeat(64);
  await plantChecksum(cacheDir, ONE, planted);
  // A fresh cache (a new process) reads the disk file: the planted checksum proves no re-hash.
  const second = await discoverMigrations(dir, { cache: ahead(cacheDir) });
  t.is(byFile(second, ONE).checksum, planted);
  t.is(byFile(second, TWO).checksum, byFile(first, TWO).checksum);
  t.is(byFile(first, ONE).checksum, sha256(sql('a')));
});

test('the cache file holds metadata and checksums, not SQL', async (t) => {
  const { dir, cacheDir } = await setup(t);
  await discoverMigrations(dir, { cache: ahead(cacheDir) });
  const text = await readFile(await cacheFile(cacheDir), 'utf8');
  t.false(text.includes('create table'));
  t.true(text.includes(sha256(sql('a'))));
  t.is((await stat(await cacheFile(cacheDir))).mode & 0o777, 0o600);
});

test('an edit within the same second that keeps the size is seen (the racy case)', async (t) => {
  const { dir, cacheDir } = await setup(t);
  // The real clock: files written just now.
  const cache = new FileCache({ dir: cacheDir });
  const before = await discoverMigrations(dir, { cache });
  await writeFile(join(dir, ONE), sql('z'));
  t.is((await stat(join(dir, ONE))).size, Buffer.byteLength(sql('a')));
  const after = await discoverMigrations(dir, { cache });
  t.not(byFile(after, ONE).checksum, byFile(before, ONE).checksum);
  t.is(byFile(after, ONE).checksum, sha256(sql('z')));
  const one = byFile(after, ONE);
  t.true(one.kind === 'sql' && one.up.sql.includes('create table z'));
  // Nothing that recent is recorded, so even an edit within one timestamp tick is re-hashed.
  t.is(cache.load(await realpath(dir)).size, 0);
});

test('a file is recorded only once its last change is older than the racy margin', (t) => {
  const at = Date.now();
  const stats = (changedAgo: number, modifiedAgo = changedAgo) =>
    ({ ctimeMs: at - changedAgo, mtimeMs: at - modifiedAgo }) as Parameters<typeof isSettled>[0];
  t.true(isSettled(stats(RACY_MARGIN_MS + 1), at));
  t.false(isSettled(stats(RACY_MARGIN_MS), at));
  t.false(isSettled(stats(500), at));
  // A modification time in the future (a clock ahead, `touch -d`) is not settled either.
  t.false(isSettled(stats(RACY_MARGIN_MS + 1, -60_000), at));
});

test('an edit of a cached file is seen: new checksum, new content', async (t) => {
  const { dir, cacheDir } = await setup(t);
  const cache = ahead(cacheDir);
  await discoverMigrations(dir, { cache });
  await writeFile(join(dir, TWO), `${sql('b')}-- more\n`);
  const files = await discoverMigrations(dir, { cache });
  const two = byFile(files, TWO);
  t.is(two.checksum, sha256(`${sql('b')}-- more\n`));
  t.true(two.kind === 'sql' && two.source.endsWith('-- more\n'));
});

test('renamed, deleted and added files are found as they are now', async (t) => {
  const { dir, cacheDir } = await setup(t);
  const cache = ahead(cacheDir);
  await discoverMigrations(dir, { cache });
  const renamed = '20260104000000_one_again.sql';
  await rename(join(dir, ONE), join(dir, renamed));
  await rm(join(dir, TWO));
  const added = '20260105000000_added.sql';
  await writeFile(join(dir, added), sql('c'));
  for (const each of [cache, ahead(cacheDir)]) {
    const files = await discoverMigrations(dir, { cache: each });
    t.deepEqual(
      files.map((file) => file.file),
      [THREE, renamed, added],
    );
    t.is(byFile(files, renamed).checksum, sha256(sql('a')));
    const one = byFile(files, renamed);
    t.true(one.kind === 'sql' && one.version === '20260104000000' && one.name === 'one_again');
  }
  const cached = JSON.parse(await readFile(await cacheFile(cacheDir), 'utf8')) as {
    files: Record<string, unknown>;
  };
  t.deepEqual(Object.keys(cached.files).sort(), [THREE, renamed, added]);
});

test('a corrupt, foreign or stale cache file is ignored and replaced', async (t) => {
  const { dir, cacheDir } = await setup(t);
  const cold = await discoverMigrations(dir, { cache: null });
  await discoverMigrations(dir, { cache: ahead(cacheDir) });
  const path = await cacheFile(cacheDir);
  const good = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown> & {
    files: Record<string, unknown[]>;
  };
  const planted = structuredClone(good);
  for (const entry of Object.values(planted.files)) entry[5] = 'f'.repeat(64);
  const variants = [
    '{ not json',
    '',
    JSON.stringify({ ...planted, format: 999 }),
    JSON.stringify({ ...planted, offloop: '0.0.0-other' }),
    JSON.stringify({ ...planted, dir: '/somewhere/else' }),
    JSON.stringify({ ...planted, files: { [ONE]: ['x'] } }),
    JSON.stringify([]),
  ];
  for (const variant of variants) {
    await writeFile(path, variant);
    const files = await discoverMigrations(dir, { cache: ahead(cacheDir) });
    t.deepEqual(
      files.map(({ file, checksum }) => ({ file, checksum })),
      cold.map(({ file, checksum }) => ({ file, checksum })),
      variant.slice(0, 40),
    );
    // Rewritten with what was just read.
    t.deepEqual(JSON.parse(await readFile(path, 'utf8')), good);
  }
});

test('a cache directory that cannot be written is no error: the run proceeds without it', async (t) => {
  const { dir } = await setup(t);
  const blocker = join(await tempDir(t, 'offloop-cache-blocked-'), 'a-file');
  await writeFile(blocker, 'not a directory');
  const cold = await discoverMigrations(dir, { cache: null });
  for (const cacheDir of [join(blocker, 'cache'), blocker, '/proc/offloop-cache']) {
    const cache = ahead(cacheDir);
    const files = await discoverMigrations(dir, { cache });
    t.deepEqual(
      files.map(({ file, checksum }) => ({ file, checksum })),
      cold.map(({ file, checksum }) => ({ file, checksum })),
    );
    // The thread's memory still serves the next call.
    t.is((await discoverMigrations(dir, { cache })).length, 3);
  }
  t.is(await readFile(blocker, 'utf8'), 'not a directory');
});

test('OFFLOOP_FILE_CACHE=0 turns the cache off; OFFLOOP_FILE_CACHE_DIR and XDG_CACHE_HOME place it', async (t) => {
  for (const off of ['0', 'false', 'off', 'OFF'])
    t.deepEqual(cacheSettingsFromEnv({ OFFLOOP_FILE_CACHE: off }), { enabled: false });
  t.deepEqual(cacheSettingsFromEnv({ OFFLOOP_FILE_CACHE: '1', OFFLOOP_FILE_CACHE_DIR: '/c' }), {
    enabled: true,
    dir: '/c',
  });
  t.deepEqual(cacheSettingsFromEnv({ XDG_CACHE_HOME: '/x' }), {
    enabled: true,
    dir: '/x/offloop/files',
  });
  // A relative XDG_CACHE_HOME is invalid (the XDG specification) and ignored.
  t.deepEqual(cacheSettingsFromEnv({ XDG_CACHE_HOME: 'relative' }), {
    enabled: true,
    dir: join(homedir(), '.cache', 'offloop', 'files'),
  });

  // ava runs each test file in its own thread, with its own copy of the environment.
  const { dir, cacheDir } = await setup(t);
  const saved = [process.env['OFFLOOP_FILE_CACHE_DIR'], process.env['OFFLOOP_FILE_CACHE']];
  t.teardown(() => {
    for (const [key, value] of [
      ['OFFLOOP_FILE_CACHE_DIR', saved[0]],
      ['OFFLOOP_FILE_CACHE', saved[1]],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  process.env['OFFLOOP_FILE_CACHE_DIR'] = cacheDir;
  process.env['OFFLOOP_FILE_CACHE'] = '0';
  t.is(threadFileCache(), null);
  t.is((await discoverMigrations(dir)).length, 3);
  t.deepEqual(await readdir(cacheDir), []);
  delete process.env['OFFLOOP_FILE_CACHE'];
  t.not(threadFileCache(), null);
  t.is(threadFileCache(), threadFileCache());
});

test('content read on first use equals content read eagerly, through a spread and a structured clone', async (t) => {
  const { dir, cacheDir } = await setup(t, {
    [ONE]: sql('a'),
    [TWO]: `\uFEFF-- a comment\n-- migrate:up lock_timeout:5s\nselect 'é';\n`,
    [THREE]: 'export {}',
  });
  const eager = await discoverMigrations(dir, { cache: null });
  await discoverMigrations(dir, { cache: ahead(cacheDir) });
  for (const copy of [
    (files: MigrationFile[]) => files.map((file) => ({ ...file })),
    (files: MigrationFile[]) => structuredClone(files),
    (files: MigrationFile[]) => JSON.parse(JSON.stringify(files)) as unknown,
  ]) {
    const lazy = await discoverMigrations(dir, { cache: ahead(cacheDir) });
    const one = byFile(lazy, ONE);
    // Not read yet: a getter.
    t.is(typeof Object.getOwnPropertyDescriptor(one, 'source')?.get, 'function');
    t.deepEqual(copy(lazy), copy(eager));
  }
  const lazy = await discoverMigrations(dir, { cache: ahead(cacheDir) });
  t.deepEqual(
    lazy.map((file) => (file.kind === 'sql' ? [file.source, file.up, file.down] : null)),
    eager.map((file) => (file.kind === 'sql' ? [file.source, file.up, file.down] : null)),
  );
});

test('a cached file edited before its content is used throws MIGRATION_FILE_UNREADABLE changed-during-run', async (t) => {
  const { dir, cacheDir } = await setup(t);
  await discoverMigrations(dir, { cache: ahead(cacheDir) });
  const files = await discoverMigrations(dir, { cache: ahead(cacheDir) });
  await writeFile(join(dir, ONE), sql('z'));
  await rm(join(dir, TWO));
  for (const file of [ONE, TWO]) {
    const migration = byFile(files, file);
    const error = t.throws(() => (migration.kind === 'sql' ? migration.up : null), {
      code: 'MIGRATION_FILE_UNREADABLE',
    });
    t.like(error, { details: { file, reason: 'changed-during-run' } });
  }
  // The next run sees the edit.
  const again = await discoverMigrations(dir, { cache: ahead(cacheDir) });
  t.is(byFile(again, ONE).checksum, sha256(sql('z')));
});

test('a cached file made invalid is refused as a new one would be', async (t) => {
  const { dir, cacheDir } = await setup(t);
  const cache = ahead(cacheDir);
  await discoverMigrations(dir, { cache });
  await writeFile(join(dir, ONE), 'select 1;\n');
  await t.throwsAsync(discoverMigrations(dir, { cache }), { code: 'MIGRATION_UP_MISSING' });
  await writeFile(join(dir, ONE), Buffer.from([0x2d, 0x2d, 0xe9, 0x0a]));
  await t.throwsAsync(discoverMigrations(dir, { cache: ahead(cacheDir) }), {
    code: 'MIGRATION_FILE_UNREADABLE',
  });
});

test('a warm thread reuses unread migrations, and makes a new one once content was read', async (t) => {
  const { dir, cacheDir } = await setup(t);
  const cache = ahead(cacheDir);
  await discoverMigrations(dir, { cache });
  const first = await discoverMigrations(dir, { cache });
  const second = await discoverMigrations(dir, { cache });
  t.is(byFile(second, TWO), byFile(first, TWO));
  const two = byFile(second, TWO);
  t.true(two.kind === 'sql' && two.up.options.transaction === false);
  const third = await discoverMigrations(dir, { cache });
  t.not(byFile(third, TWO), two);
  t.is(byFile(third, ONE), byFile(first, ONE));
});

test('the same directory through a symbolic link shares the cache, each path its own', async (t) => {
  const { dir, cacheDir } = await setup(t);
  const link = join(await tempDir(t, 'offloop-cache-link-'), 'migrations');
  await symlink(dir, link);
  const cache = ahead(cacheDir);
  await discoverMigrations(dir, { cache });
  const viaLink = await discoverMigrations(link, { cache });
  t.is(byFile(viaLink, ONE).path, join(link, ONE));
  t.is((await readdir(cacheDir)).length, 1);
  const direct = await discoverMigrations(dir, { cache });
  t.is(byFile(direct, ONE).path, join(dir, ONE));
});
