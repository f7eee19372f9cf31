/**
 * The checksum cache: a migration file whose stat is unchanged since it was hashed is not read
 * again, as git's index does. Two levels: a map per thread (a warm thread serves many calls) and
 * one small JSON file per migrations directory on disk (a fresh CLI process benefits). Any failure
 * of the disk level is ignored: the run proceeds as without it, and the library never prints.
 *
 * An edit is never missed. A file's key is its size, modification and change times, inode and
 * device; any write changes the change time, which no user can set back. What a key cannot show
 * is an edit within the same timestamp tick as the hashed state (git's "racily clean" files): a
 * file changed less than {@link RACY_MARGIN_MS} before it was hashed is therefore never recorded,
 * and is hashed again on every call until it is older than that. A recorded file's times are thus
 * at least that margin older than any later change's, so milliseconds (`Stats`, not `bigint`
 * nanoseconds, which cost a BigInt per field) tell the two apart.
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  openSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { LazyMigration } from './migration-content.ts';

/**
 * The on-disk format. Bump it whenever what a cached file stands for changes (the checksum, the
 * key, or a validation rule a cached file was checked against): older files are then ignored.
 */
const FORMAT = 1;

/**
 * A file whose modification or change time is this close to the moment it was hashed (or newer)
 * is not recorded: an edit within the same timestamp tick would keep its key. Two seconds covers
 * the coarsest common granularity (FAT's 2 s; ext3 and HFS+ 1 s; a kernel's coarse clock a few ms).
 */
export const RACY_MARGIN_MS = 2000;

/** At most this many directories are remembered in one thread. */
const MEMORY_DIRS = 32;

/** At most this many cache files are kept on disk; creating one more removes the oldest. */
const DISK_FILES = 256;

/** The environment variable that turns the cache off with `0`, `false` or `off`. */
const FILE_CACHE_ENV = 'OFFLOOP_FILE_CACHE';

/** The environment variable naming the directory that holds the on-disk cache files. */
const CACHE_DIR_ENV = 'OFFLOOP_FILE_CACHE_DIR';

/**
 * What a file's stat said when its bytes were hashed, and their checksum: `[size, mtimeMs,
 * ctimeMs, ino, dev, checksum]`. A tuple, as it is stored on disk: loading makes no objects.
 */
export type CacheEntry = readonly [
  size: number,
  mtimeMs: number,
  ctimeMs: number,
  ino: number,
  dev: number,
  checksum: string,
];

/** One directory's entries, by file name. */
export type DirEntries = ReadonlyMap<string, CacheEntry>;

/** Options of {@link FileCache}. */
export type FileCacheOptions = {
  /** The directory of on-disk cache files; null keeps the cache in memory only. */
  readonly dir: string | null;
  /** Wall clock in ms, for the racy check. @default Date.now */
  readonly now?: () => number;
};

/** The entry for a file with `stats` and `checksum`. */
export function entryFor(stats: Stats, checksum: string): CacheEntry {
  return [stats.size, stats.mtimeMs, stats.ctimeMs, stats.ino, stats.dev, checksum];
}

/** The checksum an entry records. */
export function entryChecksum(entry: CacheEntry): string {
  return entry[5];
}

/** Whether `stats` are the ones `entry` was recorded with: then the bytes are unchanged. */
export function isUnchanged(entry: CacheEntry, stats: Stats): boolean {
  return (
    entry[2] === stats.ctimeMs &&
    entry[1] === stats.mtimeMs &&
    entry[0] === stats.size &&
    entry[3] === stats.ino &&
    entry[4] === stats.dev
  );
}

/**
 * Whether a file with these stats, hashed after wall-clock time `hashedAfter` (ms), may be
 * recorded: its last change is older than {@link RACY_MARGIN_MS} before that moment.
 */
export function isSettled(stats: Stats, hashedAfter: number): boolean {
  return Math.max(stats.mtimeMs, stats.ctimeMs) < hashedAfter - RACY_MARGIN_MS;
}

/**
 * The cache of one thread (or of a test): remembered directories, and where their files go on
 * disk. Directories are keyed by their real path.
 */
export class FileCache {
  readonly #dir: string | null;
  readonly #memory = new Map<string, DirEntries>();
  /** Wall clock in ms. */
  readonly now: () => number;
  #offloop: string | null = null;
  /**
   * The migration last made from an entry, reused by the next call while its content is unread:
   * a warm thread's no-op makes no objects. One whose content was read is replaced by the next
   * call, so a thread keeps no file's text beyond the call after the one that read it.
   */
  readonly made = new WeakMap<CacheEntry, LazyMigration>();

  constructor(options: FileCacheOptions) {
    this.#dir = options.dir;
    this.now = options.now ?? Date.now;
  }

  /** The entries known for `realDir`: from memory, else from its disk file, else none. */
  load(realDir: string): DirEntries {
    const remembered = this.#memory.get(realDir);
    if (remembered !== undefined) return remembered;
    const loaded =
      this.#dir === null ? null : readCacheFile(this.#fileFor(realDir), realDir, this.#version());
    const entries = loaded ?? new Map<string, CacheEntry>();
    this.#remember(realDir, entries);
    return entries;
  }

  /**
   * Record `entries` as `realDir`'s, replacing what {@link load} returned. `changed` says whether
   * they differ from it: only then is the disk file written.
   */
  save(realDir: string, entries: DirEntries, changed: boolean): void {
    this.#remember(realDir, entries);
    if (!changed || this.#dir === null) return;
    writeCacheFile(
      this.#dir,
      this.#fileFor(realDir),
      { dir: realDir, offloop: this.#version() },
      entries,
    );
  }

  /** offloop's version, read once, only when the disk is used. */
  #version(): string {
    this.#offloop ??= offloopVersion();
    return this.#offloop;
  }

  #remember(realDir: string, entries: DirEntries): void {
    this.#memory.delete(realDir);
    this.#memory.set(realDir, entries);
    if (this.#memory.size > MEMORY_DIRS) {
      const oldest = this.#memory.keys().next();
      if (oldest.done !== true) this.#memory.delete(oldest.value);
    }
  }

  #fileFor(realDir: string): string {
    const name = nameHash(realDir);
    return join(this.#dir ?? '', `${name}.json`);
  }
}

/** The disk file's shape. */
type CacheFile = {
  readonly format: number;
  readonly offloop: string;
  readonly dir: string;
  /** File name to its entry. */
  readonly files: Record<string, CacheEntry>;
};

/** A directory's entries from `path`; null when it is absent, unreadable, foreign or stale. */
function readCacheFile(
  path: string,
  realDir: string,
  offloop: string,
): Map<string, CacheEntry> | null {
  let parsed: unknown;
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    // Only a file this user wrote: in a shared directory, another user could plant checksums.
    if (!isOwnAndPrivate(fstatSync(fd))) return null;
    parsed = JSON.parse(readFileSync(fd, 'utf8'));
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const file = parsed as Partial<CacheFile>;
  if (file.format !== FORMAT || file.offloop !== offloop || file.dir !== realDir) return null;
  if (typeof file.files !== 'object' || file.files === null) return null;
  const entries = new Map<string, CacheEntry>();
  const files = file.files as Record<string, unknown>;
  for (const name in files) {
    const value = files[name];
    if (!isEntry(value)) return null;
    entries.set(name, value);
  }
  return entries;
}

function isEntry(value: unknown): value is CacheEntry {
  if (!Array.isArray(value) || value.length !== 6) return false;
  const [size, mtimeMs, ctimeMs, ino, dev, checksum] = value as unknown[];
  return (
    typeof size === 'number' &&
    typeof mtimeMs === 'number' &&
    typeof ctimeMs === 'number' &&
    typeof ino === 'number' &&
    typeof dev === 'number' &&
    typeof checksum === 'string' &&
    // The file is this user's own, written whole by a rename: a shape check suffices.
    checksum.length === 64
  );
}

/**
 * Write the directory's entries to `path` atomically (a temporary file, then a rename), so that
 * a reader sees the old file or the new one. Failures are ignored; the temporary file is removed.
 */
function writeCacheFile(
  cacheDir: string,
  path: string,
  stamp: Pick<CacheFile, 'dir' | 'offloop'>,
  entries: DirEntries,
): void {
  const files: Record<string, CacheEntry> = Object.fromEntries(entries);
  const content: CacheFile = { format: FORMAT, ...stamp, files };
  const temporary = `${path}.${process.pid}.${threadId}.${Math.floor(Math.random() * 2 ** 32).toString(16)}.tmp`;
  try {
    if (!prepareCacheDir(cacheDir)) return;
    const created = statSync(path, { throwIfNoEntry: false }) === undefined;
    // `wx`: never through a link someone left at that name.
    writeFileSync(temporary, JSON.stringify(content), { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
    if (created) prune(cacheDir);
  } catch {
    try {
      unlinkSync(temporary);
    } catch {
      // Never written, or already renamed.
    }
  }
}

/**
 * Create the cache directory if needed; false when it is not one this user alone may write. In a
 * shared place (the temporary directory) another user could otherwise plant checksums.
 */
function prepareCacheDir(cacheDir: string): boolean {
  makeDir(cacheDir, 8);
  const stats = lstatSync(cacheDir);
  return stats.isDirectory() && isOwnAndPrivate(stats);
}

/** Owned by this user, and writable by no one else (where the system has users and modes). */
function isOwnAndPrivate(stats: Stats): boolean {
  const uid = process.getuid?.();
  return uid === undefined || (stats.uid === uid && (stats.mode & 0o022) === 0);
}

/**
 * `mkdir -p` with a bounded depth: Node's own recursive `mkdirSync` never returns where `mkdir`
 * answers ENOENT under a parent that exists (`/proc`, verified on Node 24).
 */
function makeDir(path: string, depth: number): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || depth === 0 || dirname(path) === path) throw error;
    makeDir(dirname(path), depth - 1);
    mkdirSync(path, { mode: 0o700 });
  }
}

/** Keep at most {@link DISK_FILES} cache files: remove the least recently written. */
function prune(cacheDir: string): void {
  const files = readdirSync(cacheDir).filter((name) => name.endsWith('.json'));
  if (files.length <= DISK_FILES) return;
  const byAge = files
    .map((name) => ({ name, mtime: statSync(join(cacheDir, name), { throwIfNoEntry: false }) }))
    .map(({ name, mtime }) => ({ name, at: mtime?.mtimeMs ?? 0 }))
    .sort((a, b) => a.at - b.at);
  for (const { name } of byAge.slice(0, files.length - DISK_FILES)) {
    try {
      unlinkSync(join(cacheDir, name));
    } catch {
      // Removed by another process, or not ours to remove.
    }
  }
}

/**
 * The version of `@offloop/core`, from its `package.json` (next to `src/` and `dist/` alike);
 * `unknown` when it cannot be read there (a bundle elsewhere): {@link FORMAT} still guards.
 */
function offloopVersion(): string {
  try {
    const manifest = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { name?: unknown; version?: unknown };
    return manifest.name === '@offloop/core' && typeof manifest.version === 'string'
      ? manifest.version
      : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Where the cache files go, from the environment: null when `OFFLOOP_FILE_CACHE` is `0`, `false`
 * or `off` (no cache at all), else `OFFLOOP_FILE_CACHE_DIR`, `$XDG_CACHE_HOME/offloop/files`,
 * `~/.cache/offloop/files`, or, without a home directory, `offloop-<uid>/files` in the temporary
 * directory.
 */
export function cacheSettingsFromEnv(
  env: NodeJS.ProcessEnv,
): { readonly enabled: false } | { readonly enabled: true; readonly dir: string } {
  const switched = env[FILE_CACHE_ENV]?.trim().toLowerCase();
  if (switched === '0' || switched === 'false' || switched === 'off') return { enabled: false };
  const override = env[CACHE_DIR_ENV];
  if (override !== undefined && override !== '') return { enabled: true, dir: override };
  // The XDG specification: a relative XDG_CACHE_HOME is invalid and ignored.
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg !== undefined && isAbsolute(xdg))
    return { enabled: true, dir: join(xdg, 'offloop', 'files') };
  let home = '';
  try {
    home = homedir();
  } catch {
    // No home directory for this user (a system account): the temporary directory instead.
  }
  if (home !== '') return { enabled: true, dir: join(home, '.cache', 'offloop', 'files') };
  const user = `offloop-${String(process.getuid?.() ?? 'user')}`;
  return { enabled: true, dir: join(tmpdir(), user, 'files') };
}

/** The caches of this thread, by their disk directory. */
const threadCaches = new Map<string, FileCache>();

/**
 * This thread's cache, as the environment sets it up ({@link cacheSettingsFromEnv}); null when
 * `OFFLOOP_FILE_CACHE` turns it off. One per disk directory, kept for the thread's life.
 */
export function threadFileCache(): FileCache | null {
  const settings = cacheSettingsFromEnv(process.env);
  if (!settings.enabled) return null;
  let cache = threadCaches.get(settings.dir);
  if (cache === undefined) {
    cache = new FileCache({ dir: settings.dir });
    threadCaches.set(settings.dir, cache);
  }
  return cache;
}

/**
 * A cache file's name for a directory: two 32-bit FNV-1a hashes of its path, hex. Not a
 * cryptographic hash, so that a call whose files did not change never loads `node:crypto`
 * (about 5 ms in a new thread); the file's stamp names the directory, so a collision only costs
 * a cache miss.
 */
function nameHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code ^ (a >>> 16), 0x01000193);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
