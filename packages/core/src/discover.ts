/**
 * Discovery: read the migrations directory, validate names, parse SQL sections and compute
 * checksums. Runs in the worker; the host never reads migration files.
 */
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DuplicateVersionError,
  MigrationFileNameError,
  MigrationsDirNotFoundError,
} from './errors.ts';
import type { MigrationFile } from './migration.ts';
import { parseSqlMigration } from './sql-file.ts';

/** Extensions of migrations written as modules (imported inside the worker). */
export const MODULE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;
const MIGRATION_EXTENSIONS = ['.sql', ...MODULE_EXTENSIONS] as const;

const FILE_NAME = /^(\d{14})_([A-Za-z0-9_]+)\.(sql|ts|mts|js|mjs)$/;

/** Files in a migrations directory that are not migrations and are skipped silently. */
function isIgnored(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.d.ts') || name.endsWith('.md') || name.endsWith('~');
}

/**
 * Find every migration in `dir`, sorted by version. Throws a typed error for a missing
 * directory, a bad file name, a duplicate version, a SQL file without an up section or a
 * marker option that is unknown.
 */
export async function discoverMigrations(dir: string): Promise<MigrationFile[]> {
  let entries: Dirent[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    throw new MigrationsDirNotFoundError(`Migrations directory ${dir} does not exist or is not a directory.`, { dir }, { cause });
  }

  // Names are checked first, in order, so that the first bad name is the one reported.
  const found: { file: string; path: string; version: string; name: string; extension: string }[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const file = entry.name;
    if (isIgnored(file)) continue;
    const path = join(dir, file);
    // A symbolic link counts as what it points to.
    const isFile = entry.isSymbolicLink() ? (await stat(path).catch(() => null))?.isFile() === true : entry.isFile();
    if (!isFile) continue;
    const match = FILE_NAME.exec(file);
    if (match === null) {
      if (!MIGRATION_EXTENSIONS.some((extension) => file.endsWith(extension))) continue;
      throw new MigrationFileNameError(
        `${file} is not a valid migration file name: expected <YYYYMMDDHHMMSS>_<name>.sql (or .ts, .mts, .js, .mjs), with a name of letters, digits and _. Create files with \`offloop create <name>\`.`,
        { file, reason: 'pattern' },
      );
    }
    const [, version = '', name = '', extension = ''] = match;
    if (!isValidTimestamp(version)) {
      throw new MigrationFileNameError(`${file}: ${version} is not a valid UTC timestamp (YYYYMMDDHHMMSS).`, { file, reason: 'timestamp' });
    }
    found.push({ file, path, version, name, extension });
  }

  // Read several files at a time: one after the other, each read waits a loop turn for the
  // thread pool (a few hundred files took over 100 ms).
  const contents = await mapConcurrently(found, READ_CONCURRENCY, (each) => readFile(each.path));
  const files: MigrationFile[] = found.map(({ file, path, version, name, extension }, index) => {
    const bytes = contents[index] ?? Buffer.alloc(0);
    const checksum = createHash('sha256').update(bytes).digest('hex');
    const base = { version, name, file, path, checksum };
    if (extension !== 'sql') return { ...base, kind: 'module' };
    const source = bytes.toString('utf8');
    return { ...base, kind: 'sql', source, ...parseSqlMigration(file, source) };
  });

  const seen = new Map<string, string>();
  for (const migration of files) {
    const other = seen.get(migration.version);
    if (other !== undefined) {
      throw new DuplicateVersionError(
        `Two migrations share version ${migration.version}: ${other} and ${migration.file}. Give one of them a new version.`,
        { version: migration.version, files: [other, migration.file] },
      );
    }
    seen.set(migration.version, migration.file);
  }
  return files;
}

/** Files read at once (well under any open-files limit). */
const READ_CONCURRENCY = 32;

/** `fn` over `items`, at most `limit` at a time; results in the order of `items`. */
async function mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

function isValidTimestamp(version: string): boolean {
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((start, index) => Number(version.slice(start, start + (index === 0 ? 4 : 2))));
  const date = new Date(Date.UTC(y ?? 0, (mo ?? 0) - 1, d ?? 0, h ?? 0, mi ?? 0, s ?? 0));
  return (
    date.getUTCFullYear() === y && date.getUTCMonth() + 1 === mo && date.getUTCDate() === d &&
    date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s
  );
}
