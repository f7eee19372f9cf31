/**
 * Discovery: read the migrations directory, validate names, parse SQL sections and compute
 * checksums. Runs in the worker; the host never reads migration files.
 */
import { readFileSync, realpathSync, statSync, type Dirent, type Stats } from 'node:fs';
import { readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DuplicateVersionError,
  fileNameMessage,
  MigrationFileNameError,
  MigrationFileUnreadableError,
  MigrationsDirInaccessibleError,
  MigrationsDirNotFoundError,
  unreadableEntryMessage,
  type UnreadableReason,
} from '../errors/index.ts';
import type { MigrationFile } from '../model/migration.ts';
import {
  entryChecksum,
  entryFor,
  isSettled,
  isUnchanged,
  threadFileCache,
  type CacheEntry,
  type DirEntries,
  type FileCache,
} from './file-cache.ts';
import {
  checksumOf,
  migrationFromBytes,
  migrationFromChecksum,
  type MigrationIdentity,
} from './migration-content.ts';

/**
 * Extensions of migrations written as modules (imported inside the worker). `.cjs` and `.cts`
 * are CommonJS: Node 24 imports them (`.cts` with type stripping) and their `module.exports`
 * carries `up`.
 */
export const MODULE_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'] as const;
const MIGRATION_EXTENSIONS = ['.sql', ...MODULE_EXTENSIONS] as const;

const EXTENSION_NAMES = MIGRATION_EXTENSIONS.map((extension) => extension.slice(1));
const FILE_NAME = new RegExp(`^(\\d{14})_([A-Za-z0-9_]+)\\.(${EXTENSION_NAMES.join('|')})$`);

/** Files in a migrations directory that are not migrations and are skipped silently. */
function isIgnored(name: string): boolean {
  return (
    name.startsWith('.') || /\.d\.[cm]?ts$/.test(name) || name.endsWith('.md') || name.endsWith('~')
  );
}

/** Whether an entry claims to be a migration: one that cannot be read is then an error, not skipped. */
function looksLikeMigration(name: string): boolean {
  // Case-insensitively: `x.SQL` is a migration with a wrong name, refused, not a file to skip.
  return (
    FILE_NAME.test(name) ||
    MIGRATION_EXTENSIONS.some((extension) => name.toLowerCase().endsWith(extension))
  );
}

/** Options of {@link discoverMigrations}. */
export type DiscoverOptions = {
  /**
   * The checksum cache: files whose stat is unchanged since they were hashed are not read again
   * (see `file-cache.ts`). Null reads and hashes every file.
   * @default this thread's cache, as `OFFLOOP_FILE_CACHE` and `OFFLOOP_CACHE_DIR` set it up
   */
  readonly cache?: FileCache | null | undefined;
};

/**
 * Find every migration in `dir`, sorted by version. Throws a typed error for a missing
 * directory, a bad file name, an entry with a migration's name that cannot be read as a file,
 * a file that is not UTF-8 (or, for SQL, holds a NUL byte), a duplicate version, a SQL file
 * without an up section or a marker option that is unknown.
 *
 * A file unchanged since it was last hashed (by its stat, in the cache) is not read: its checksum
 * comes from the cache, and a SQL file's content is read on first use (it was valid when cached).
 */
export async function discoverMigrations(
  dir: string,
  options: DiscoverOptions = {},
): Promise<MigrationFile[]> {
  const cache = options.cache === undefined ? threadFileCache() : options.cache;
  // Taken before any file is looked at: a file changed after it is never recorded as settled.
  const startedAt = cache?.now() ?? 0;
  const entries = await readMigrationsDir(dir);
  const realDir = cache === null ? null : realDirOf(dir);
  const known = cache === null || realDir === null ? NONE_KNOWN : cache.load(realDir);
  const found = await namedMigrations(dir, entries, known);
  const files =
    cache === null || realDir === null
      ? readMigrations(
          found,
          found.map(() => null),
        )
      : readThroughCache(found, { cache, realDir, known, startedAt });
  assertUniqueVersions(files);
  return files;
}

const NONE_KNOWN: DirEntries = new Map();

/** A directory entry with a migration's valid name, not read yet. */
type Found = MigrationIdentity;

/** The directory's real path, which keys its cache; null when it cannot be had. */
function realDirOf(dir: string): string | null {
  try {
    return realpathSync(dir);
  } catch {
    return null;
  }
}

/**
 * The migrations `found`, each unchanged one from the cache and the rest read; then the cache
 * holds exactly the files found that are settled (see {@link isSettled}).
 */
function readThroughCache(
  found: readonly Found[],
  site: { cache: FileCache; realDir: string; known: DirEntries; startedAt: number },
): MigrationFile[] {
  const { cache, known } = site;
  const next = new Map<string, CacheEntry>();
  const stats = found.map(statOf);
  const cached = found.map((each, index): MigrationFile | null => {
    const entry = known.get(each.file);
    const current = stats[index];
    if (entry === undefined || current === undefined || !isUnchanged(entry, current)) return null;
    next.set(each.file, entry);
    const made = cache.made.get(entry);
    if (made !== undefined && !made.loaded() && made.migration.path === each.path)
      return made.migration;
    const lazy = migrationFromChecksum(each, entryChecksum(entry));
    cache.made.set(entry, lazy);
    return lazy.migration;
  });
  const hits = next.size;
  const files = readMigrations(found, cached);
  files.forEach((migration, index) => {
    const current = stats[index];
    if (cached[index] !== null || current === undefined) return;
    if (isSettled(current, site.startedAt))
      next.set(migration.file, entryFor(current, migration.checksum));
  });
  cache.save(site.realDir, next, hits !== known.size || next.size !== hits);
  return files;
}

/** A file's stat (through a symbolic link); undefined when it fails: reading it will say why. */
function statOf(each: Found): Stats | undefined {
  try {
    return statSync(each.path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The directory's entries; a typed error when it is missing, not a directory, or closed to us. */
async function readMigrationsDir(dir: string): Promise<Dirent[]> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    return await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    // There, but closed to this process: the directory's permissions, not a wrong --dir.
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new MigrationsDirInaccessibleError(
        `Migrations directory ${dir} cannot be read: no permission (${code}). ` +
          'Fix its permissions, or run as a user who may read it.',
        { dir, reason: code },
        { cause },
      );
    }
    throw new MigrationsDirNotFoundError(
      `Migrations directory ${dir} does not exist or is not a directory.`,
      { dir },
      { cause },
    );
  }
}

/**
 * The entries that are migrations, by name, each a file with a valid name. Names are checked
 * first, in order, so that the first bad name is the one reported. A name `known` to the cache
 * was checked when it was recorded: only split into its parts.
 */
async function namedMigrations(
  dir: string,
  entries: Dirent[],
  known: DirEntries,
): Promise<Found[]> {
  // Migration names are plain path segments (no separator, never `.` or `..`): joined to the
  // directory as `join` would join them, without normalising the directory each time.
  const prefix = join(dir, 'x').slice(0, -1);
  const found: Found[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const file = entry.name;
    const isKnown = known.has(file);
    if (!isKnown && (isIgnored(file) || !looksLikeMigration(file))) continue;
    const path = prefix + file;
    if (!entry.isFile()) await checkRegularFile(entry, path);
    found.push({ file, path, ...(isKnown ? splitFileName(file) : parseFileName(file)) });
  }
  return found;
}

/** The parts of a file name known to be valid. */
function splitFileName(file: string): Pick<Found, 'version' | 'name' | 'extension'> {
  const dot = file.lastIndexOf('.');
  return { version: file.slice(0, 14), name: file.slice(15, dot), extension: file.slice(dot + 1) };
}

/** A migration's file name in its parts; a typed error when it is not a valid one. */
function parseFileName(file: string): Pick<Found, 'version' | 'name' | 'extension'> {
  const match = FILE_NAME.exec(file);
  if (match === null) {
    throw new MigrationFileNameError(fileNameMessage(file, MODULE_EXTENSIONS), {
      file,
      reason: 'pattern',
    });
  }
  const [, version = '', name = '', extension = ''] = match;
  if (!isValidTimestamp(version)) {
    throw new MigrationFileNameError(
      `${file}: ${version} is not a valid UTC timestamp (YYYYMMDDHHMMSS).`,
      { file, reason: 'timestamp' },
    );
  }
  return { version, name, extension };
}

/**
 * Read, checksum, decode and (SQL) parse every migration found that is not already `known`
 * (null at its index). Problems are reported in file order.
 */
function readMigrations(
  found: readonly Found[],
  known: readonly (MigrationFile | null)[],
): MigrationFile[] {
  const toRead = found.filter((_, index) => known[index] === null);
  // Synchronously: this is the worker thread, and an asynchronous read is four trips through
  // libuv's thread pool (open, fstat, read, close): 5,000 files took 200 ms, read so 57 ms
  // (bench/discover.ts). A failed read is reported in file order, like every other problem.
  const contents = toRead.map((each) => {
    try {
      return readFileSync(each.path);
    } catch (error) {
      return { error };
    }
  });
  let read = 0;
  return found.map((each, index) => {
    const migration = known[index];
    if (migration !== null && migration !== undefined) return migration;
    const bytes = contents[read] ?? Buffer.alloc(0);
    read += 1;
    if (!(bytes instanceof Uint8Array))
      throw unreadable(each.file, readFailure(bytes.error), { cause: bytes.error });
    return migrationFromBytes(each, bytes, checksumOf(bytes));
  });
}

/** Throws {@link DuplicateVersionError} for the first version two files share. */
function assertUniqueVersions(files: readonly MigrationFile[]): void {
  // Files come sorted by name, which starts with the version: one version's files are adjacent.
  for (let index = 1; index < files.length; index += 1) {
    const other = files[index - 1];
    const migration = files[index];
    if (other === undefined || migration === undefined || other.version !== migration.version)
      continue;
    throw new DuplicateVersionError(
      `Two migrations share version ${migration.version}: ${other.file} and ` +
        `${migration.file}. Give one of them a new version.`,
      { version: migration.version, files: [other.file, migration.file] },
    );
  }
}

/**
 * Throws {@link MigrationFileUnreadableError} unless `entry` is a regular file or a symbolic
 * link to one: an entry with a migration's name that cannot be read is never skipped silently.
 */
async function checkRegularFile(entry: Dirent, path: string): Promise<void> {
  const file = entry.name;
  if (entry.isFile()) return;
  if (!entry.isSymbolicLink())
    throw unreadable(file, entry.isDirectory() ? 'directory' : 'not-a-regular-file');
  let target: Stats;
  try {
    target = await stat(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const to = await readlink(path).catch(() => null);
      throw unreadable(file, 'dangling-symlink', {
        cause,
        what: to === null ? undefined : `is a symbolic link to ${to}, which does not exist`,
      });
    }
    throw unreadable(file, code === 'ELOOP' ? 'symlink-loop' : readFailure(cause), { cause });
  }
  if (target.isDirectory())
    throw unreadable(file, 'directory', { what: 'is a symbolic link to a directory' });
  if (!target.isFile())
    throw unreadable(file, 'not-a-regular-file', {
      what: 'is a symbolic link to something other than a regular file',
    });
}

/** The reason for a failed `stat` or read, from its system error code. */
function readFailure(cause: unknown): EntryReason {
  const code = (cause as NodeJS.ErrnoException | null)?.code;
  return (code === undefined ? undefined : SYSTEM_ERRORS[code]) ?? 'read-failed';
}

const SYSTEM_ERRORS: Partial<Record<string, EntryReason>> = {
  EACCES: 'permission-denied',
  EPERM: 'permission-denied',
  EISDIR: 'directory',
  ELOOP: 'symlink-loop',
};

/**
 * Reasons about the entry itself; the content's own (`invalid-utf8`, `nul-byte`) are in
 * `file-text.ts`, a change during the run's in `migration-content.ts`.
 */
type EntryReason = Exclude<UnreadableReason, 'invalid-utf8' | 'nul-byte' | 'changed-during-run'>;

const ENTRY_PROBLEMS: Record<EntryReason, string> = {
  'dangling-symlink': 'is a symbolic link to a file that does not exist',
  'symlink-loop': 'is a symbolic link that loops back on itself (ELOOP)',
  directory: 'is a directory',
  'not-a-regular-file': 'is not a regular file (a FIFO, socket or device)',
  'permission-denied': 'cannot be read: permission denied',
  'read-failed': 'cannot be read',
};

/** The error for an entry with a migration's name that cannot be read as a file. */
function unreadable(
  file: string,
  reason: EntryReason,
  options: { cause?: unknown; what?: string | undefined } = {},
): MigrationFileUnreadableError {
  const systemError =
    reason === 'read-failed' && options.cause instanceof Error ? `: ${options.cause.message}` : '';
  return new MigrationFileUnreadableError(
    unreadableEntryMessage(file, `${options.what ?? ENTRY_PROBLEMS[reason]}${systemError}`),
    { file, reason, byteOffset: null, line: null, column: null },
    'cause' in options ? { cause: options.cause } : undefined,
  );
}

function isValidTimestamp(version: string): boolean {
  const part = (start: number, length: number) => Number(version.slice(start, start + length));
  const [y, mo, d, h, mi, s] = [
    part(0, 4),
    part(4, 2),
    part(6, 2),
    part(8, 2),
    part(10, 2),
    part(12, 2),
  ];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return (
    date.getUTCFullYear() === y &&
    date.getUTCMonth() + 1 === mo &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s
  );
}
