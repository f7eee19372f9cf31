/**
 * Discovery: read the migrations directory, validate names, parse SQL sections and compute
 * checksums. Runs in the worker; the host never reads migration files.
 */
import { createHash } from 'node:crypto';
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
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    names = await readdir(dir);
  } catch (cause) {
    throw new MigrationsDirNotFoundError(`Migrations directory ${dir} does not exist or is not a directory.`, { dir }, { cause });
  }

  const files: MigrationFile[] = [];
  for (const file of names.sort()) {
    if (isIgnored(file)) continue;
    const path = join(dir, file);
    if (!(await stat(path)).isFile()) continue;
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
    const bytes = await readFile(path);
    const checksum = createHash('sha256').update(bytes).digest('hex');
    const base = { version, name, file, path, checksum };
    if (extension === 'sql') {
      const source = bytes.toString('utf8');
      files.push({ ...base, kind: 'sql', source, ...parseSqlMigration(file, source) });
    } else {
      files.push({ ...base, kind: 'module' });
    }
  }

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

function isValidTimestamp(version: string): boolean {
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((start, index) => Number(version.slice(start, start + (index === 0 ? 4 : 2))));
  const date = new Date(Date.UTC(y ?? 0, (mo ?? 0) - 1, d ?? 0, h ?? 0, mi ?? 0, s ?? 0));
  return (
    date.getUTCFullYear() === y && date.getUTCMonth() + 1 === mo && date.getUTCDate() === d &&
    date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s
  );
}
