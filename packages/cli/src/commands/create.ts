/** `offloop create <name>`: write a new, empty migration file. */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MigrationFileWriteError,
  MigrationsDirInaccessibleError,
  MigrationsDirNotFoundError,
  MigrationVersionsExhaustedError,
  messageOf,
  packageScopeOf,
  type ConfigIssue,
  type PackageScope,
} from '@offloop/core';
import { defineCommand } from '../command.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { DIR_FLAGS } from '../flags/database-options.ts';
import { usageError } from '../flags/usage-error.ts';
import { NBSP, displayPath } from '../format.ts';
import { loadConfig } from '../load-config.ts';

/** The dbmate layout: an up section and a down section, marked by comments. */
const SQL_TEMPLATE = '-- migrate:up\n\n\n-- migrate:down\n\n';

/**
 * A TypeScript migration: imported inside offloop's worker thread, never on the host. ES module
 * syntax, so it is written as `.ts` only where Node loads that as an ES module, else as `.mts`
 * ({@link typeScriptExtension}); its one import is a type, erased before Node runs it.
 */
const TS_TEMPLATE = `import type { MigrationContext } from 'offloop';

// Runs in offloop's worker thread, in one transaction together with its row in the version table.
//   ctx.connection  a slonik connection inside that transaction
//   ctx.sql         slonik's sql tag: ctx.sql.unsafe\`...\`, ctx.sql.identifier([...]), values as \${...}
//   ctx.signal      an AbortSignal, aborted when the run is cancelled
//   ctx.progress(message, { done, total })  reports progress to whoever runs the migration
// Options, as on a SQL file's marker line:
//   export const transaction = false;        run outside a transaction (CREATE INDEX CONCURRENTLY and the like)
//   export const lockTimeout = '5s';         lock_timeout for its statements
//   export const statementTimeout = '10m';   statement_timeout for its statements

export async function up(ctx: MigrationContext): Promise<void> {
  await ctx.connection.query(ctx.sql.unsafe\`SELECT 1\`);
}

export async function down(ctx: MigrationContext): Promise<void> {
  await ctx.connection.query(ctx.sql.unsafe\`SELECT 1\`);
}
`;

const NAME_PATTERN = /^[A-Za-z0-9_]+$/;
const MAX_NAME_LENGTH = 100;
const VERSION_PREFIX = /^(\d{14})_/;

/** `offloop create <name>`: a new SQL (or, with `--ts`, TypeScript) migration file; no database. */
export const createCommand = defineCommand({
  name: 'create',
  summary: 'Create a new migration file (SQL, or TypeScript with --ts)',
  usage: 'offloop create <name> [options]',
  description:
    `Write <YYYYMMDDHHMMSS>_<name>.sql with an empty "--${NBSP}migrate:up" section and an empty ` +
    `"--${NBSP}migrate:down" section (the dbmate format), or with --ts a TypeScript migration ` +
    'exporting up(ctx) and down(ctx). The version is the current UTC time, or one second after ' +
    'the newest version in the directory when that is not earlier. The name holds letters, ' +
    'digits and _; spaces and dashes become _. The directory is created if missing. Prints the ' +
    'path of the new file. Needs no database. A TypeScript migration is an ES module: it is ' +
    'named .ts when the nearest package.json above the directory has "type": "module", and ' +
    '.mts otherwise (under "type": "commonjs", which npm init writes, Node would load a .ts ' +
    'file as CommonJS and fail on its export), with a note on stderr saying why.',
  flags: {
    ...DIR_FLAGS,
    ts: {
      type: 'boolean',
      description:
        'Write a TypeScript migration (up(ctx) and down(ctx)) instead of SQL: .ts under a ' +
        'package.json with "type": "module", .mts elsewhere',
    },
  },
  examples: [
    'offloop create add_users',
    'offloop create "backfill emails" --ts',
    '$EDITOR "$(offloop create add_orders_index)"',
  ],

  async run(args, { io, output }) {
    const [raw, ...extra] = args.positionals;
    const issues: ConfigIssue[] = extra.map((value) => ({
      path: value,
      message: 'unexpected argument: offloop create takes one name',
    }));
    const name = normalizeName(raw ?? '');
    if (raw === undefined)
      issues.unshift({ path: '<name>', message: 'missing: offloop create <name>' });
    else if (typeof name !== 'string') issues.unshift({ path: '<name>', message: name.problem });
    if (issues.length > 0 || typeof name !== 'string') throw usageError('create', issues, args);

    const config = await loadConfig(args, io, { database: false });
    const ts = args.values.ts === true;
    const scope = ts ? await packageScopeOf(config.dir) : null;
    const extension = scope === null ? 'sql' : typeScriptExtension(scope);
    const created = await createMigrationFile(config.dir, name, extension, new Date());
    if (scope !== null && extension === 'mts')
      output.notice(mtsNote(created.file, scope, config.dir, io.cwd));
    output.result({ ...created, kind: ts ? 'ts' : 'sql' }, () => [
      displayPath(created.path, io.cwd),
    ]);
    return EXIT_OK;
  },
});

/**
 * `"add users"` and `"add-users"` become `add_users`; anything but letters, digits and `_` is a
 * problem.
 */
export function normalizeName(raw: string): string | { problem: string } {
  const name = raw.trim().replace(/[\s-]+/g, '_');
  if (name === '' || /^_+$/.test(name)) return { problem: 'must not be empty' };
  if (!NAME_PATTERN.test(name))
    return { problem: `"${raw}" may hold only letters, digits and _ (spaces and dashes become _)` };
  if (name.length > MAX_NAME_LENGTH)
    return { problem: `must be at most ${MAX_NAME_LENGTH} characters` };
  return name;
}

/** The extension a TypeScript migration is written with. */
type TypeScriptExtension = 'ts' | 'mts';

/**
 * `.ts` only under `"type": "module"`, where Node certainly loads it as an ES module. Under
 * `"type": "commonjs"` (npm 11's `npm init -y`) a `.ts` file is CommonJS and its `export` is a
 * SyntaxError; with no `"type"`, or no package.json, Node guesses from the syntax (and warns on
 * every run when there is a package.json). `.mts` is an ES module everywhere.
 */
function typeScriptExtension(scope: PackageScope): TypeScriptExtension {
  return scope.type === 'module' ? 'ts' : 'mts';
}

/** The stderr note for a `.mts` file: why not `.ts`, short. */
function mtsNote(file: string, scope: PackageScope, dir: string, cwd: string): string {
  const where =
    scope.packageJson === null
      ? `no package.json above ${displayPath(dir, cwd)} has "type": "module"`
      : `${displayPath(scope.packageJson, cwd)} has ${scope.type === 'commonjs' ? '"type": "commonjs"' : 'no "type": "module"'}`;
  const consequence =
    scope.type === 'commonjs'
      ? 'Node would load a .ts file as CommonJS and fail on its export'
      : "Node would have to guess a .ts file's module system";
  return `${file} is .mts, not .ts: ${where}, so ${consequence}`;
}

/** What {@link createMigrationFile} wrote. */
export type CreatedMigration = {
  readonly path: string;
  readonly file: string;
  readonly version: string;
  readonly name: string;
};

/**
 * Write a new migration file in `dir` (created if missing). Never overwrites: when the file
 * name is taken, the version moves on by a second.
 */
async function createMigrationFile(
  dir: string,
  name: string,
  extension: 'sql' | TypeScriptExtension,
  now: Date,
): Promise<CreatedMigration> {
  // The file being written when the failure came, or null while the directory is made and read.
  let writing: string | null = null;
  try {
    await mkdir(dir, { recursive: true });
    let version = nextVersion(formatVersion(now), newestVersion(await readdir(dir)));
    for (let attempt = 0; ; attempt += 1) {
      const file = `${version}_${name}.${extension}`;
      const path = join(dir, file);
      writing = file;
      try {
        await writeFile(path, extension === 'sql' ? SQL_TEMPLATE : TS_TEMPLATE, { flag: 'wx' });
        return { path, file, version, name };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (attempt >= 100)
          throw new MigrationVersionsExhaustedError(
            `Could not create a migration in ${dir}: 100 versions after ` +
              `${formatVersion(now)} are taken`,
            { dir, after: formatVersion(now), attempts: attempt + 1 },
          );
        version = bumpVersion(version);
      }
    }
  } catch (error) {
    if (error instanceof MigrationVersionsExhaustedError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    // The directory's fault, not offloop's: a file in its place, or no right to write there.
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new MigrationsDirNotFoundError(
        `Could not create a migration in ${dir}: it (or a parent of it) is a ` +
          'file, not a directory. Pass another --dir.',
        { dir },
        { cause: error },
      );
    }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new MigrationsDirInaccessibleError(
        `Could not create a migration in ${dir}: no permission to write there ` +
          `(${code}). Pass another --dir, or fix the directory's permissions.`,
        { dir, reason: code },
        { cause: error },
      );
    }
    const reason = code ?? messageOf(error);
    throw new MigrationFileWriteError(
      `Could not create a migration in ${dir}: ${reason}`,
      { dir, file: writing, reason },
      { cause: error },
    );
  }
}

/** The newest `YYYYMMDDHHMMSS_` prefix among file names, or null. */
export function newestVersion(files: readonly string[]): string | null {
  let newest: string | null = null;
  for (const file of files) {
    const version = VERSION_PREFIX.exec(file)?.[1];
    if (version !== undefined && (newest === null || version > newest)) newest = version;
  }
  return newest;
}

/** `candidate`, unless the newest existing version is not older: then one second after that. */
export function nextVersion(candidate: string, newest: string | null): string {
  return newest === null || candidate > newest ? candidate : bumpVersion(newest);
}

/** A `Date` as a UTC version, `YYYYMMDDHHMMSS`. */
function formatVersion(date: Date): string {
  return date.toISOString().replace(/\D/g, '').slice(0, 14);
}

/** One second later; a version that is not a real time (`00000000000001`) is counted up as a number. */
export function bumpVersion(version: string): string {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(version);
  if (match !== null) {
    const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    const next = new Date(date.getTime() + 1000);
    if (year >= 1000 && formatVersion(date) === version && next.getUTCFullYear() <= 9999)
      return formatVersion(next);
  }
  return (BigInt(version) + 1n).toString().padStart(14, '0');
}
