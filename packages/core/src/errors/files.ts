/** What is wrong with the migrations directory or a migration file, found before anything runs. */
import { OffloopError, type SourceLocation } from './base.ts';

/** The migrations directory does not exist or is not a directory. */
export class MigrationsDirNotFoundError extends OffloopError<
  'MIGRATIONS_DIR_NOT_FOUND',
  { readonly dir: string }
> {
  readonly code = 'MIGRATIONS_DIR_NOT_FOUND';
}

/**
 * The migrations directory exists but cannot be read (or, for `offloop create`, written): no
 * permission (`EACCES`, `EPERM`) or a read-only file system (`EROFS`). `details.reason` is the
 * system's code.
 */
export class MigrationsDirInaccessibleError extends OffloopError<
  'MIGRATIONS_DIR_INACCESSIBLE',
  { readonly dir: string; readonly reason: string }
> {
  readonly code = 'MIGRATIONS_DIR_INACCESSIBLE';
}

/**
 * `offloop create` could not make the migrations directory, list it or write the new file, for a
 * reason that is neither the directory's place nor its permissions: a full disk (`ENOSPC`), an
 * I/O error (`EIO`), a quota (`EDQUOT`). `details.file` is the path being written, or null when
 * the directory itself failed; `details.reason` is the system's code, else the error's message.
 */
export class MigrationFileWriteError extends OffloopError<
  'MIGRATION_FILE_WRITE_FAILED',
  { readonly dir: string; readonly file: string | null; readonly reason: string }
> {
  readonly code = 'MIGRATION_FILE_WRITE_FAILED';
}

/** A file in the migrations directory does not follow `<YYYYMMDDHHMMSS>_<name>.<ext>`. */
export class MigrationFileNameError extends OffloopError<
  'MIGRATION_FILE_NAME_INVALID',
  { readonly file: string; readonly reason: string }
> {
  readonly code = 'MIGRATION_FILE_NAME_INVALID';
}

/** Why a migration file was refused as unreadable; see {@link MigrationFileUnreadableError}. */
export type UnreadableReason =
  | 'invalid-utf8'
  | 'nul-byte'
  | 'dangling-symlink'
  | 'symlink-loop'
  | 'directory'
  | 'not-a-regular-file'
  | 'permission-denied'
  | 'read-failed'
  | 'changed-during-run';

/**
 * An entry with a migration's name cannot be read as a file (a dangling symbolic link, a link
 * loop, a directory, no read permission), or a file's bytes are not what offloop would run:
 * invalid UTF-8, or a NUL byte, where PostgreSQL would stop reading; or a file changed while the
 * run was using it (`changed-during-run`). `byteOffset` is the first
 * offending byte (0-based), `line` and `column` its place (1-based) when the problem is in the
 * content; all three are null otherwise.
 */
export class MigrationFileUnreadableError extends OffloopError<
  'MIGRATION_FILE_UNREADABLE',
  {
    readonly file: string;
    readonly reason: UnreadableReason;
    readonly byteOffset: number | null;
    readonly line: number | null;
    readonly column: number | null;
  }
> {
  readonly code = 'MIGRATION_FILE_UNREADABLE';
}

/** Two migration files share one version. */
export class DuplicateVersionError extends OffloopError<
  'MIGRATION_VERSION_DUPLICATE',
  { readonly version: string; readonly files: readonly string[] }
> {
  readonly code = 'MIGRATION_VERSION_DUPLICATE';
}

/**
 * `offloop create` found the version of the current second and the next ones taken, as many as
 * it tries (`details.attempts`), after `details.after`: files with versions in the future.
 */
export class MigrationVersionsExhaustedError extends OffloopError<
  'MIGRATION_VERSIONS_EXHAUSTED',
  { readonly dir: string; readonly after: string; readonly attempts: number }
> {
  readonly code = 'MIGRATION_VERSIONS_EXHAUSTED';
}

/** A SQL migration has no `-- migrate:up` section, or a module exports no `up` function. */
export class MissingUpError extends OffloopError<
  'MIGRATION_UP_MISSING',
  { readonly file: string }
> {
  readonly code = 'MIGRATION_UP_MISSING';
}

/** A marker line (`-- migrate:up ...`) carries an option offloop does not know, or a bad value. */
export class MigrationOptionError extends OffloopError<
  'MIGRATION_OPTION_INVALID',
  SourceLocation & { readonly option: string; readonly known: readonly string[] }
> {
  readonly code = 'MIGRATION_OPTION_INVALID';
}

/** A JavaScript/TypeScript migration failed to import or does not export `up(ctx)`. */
export class MigrationModuleError extends OffloopError<
  'MIGRATION_MODULE_INVALID',
  { readonly file: string; readonly reason: string }
> {
  readonly code = 'MIGRATION_MODULE_INVALID';
}

/** A pending SQL file does not parse. Nothing was run. */
export class SqlSyntaxError extends OffloopError<
  'SQL_SYNTAX_ERROR',
  SourceLocation & { readonly version: string; readonly reason: string }
> {
  readonly code = 'SQL_SYNTAX_ERROR';
}

// Messages: the text of the errors above that a throw site would otherwise build inline.

/** MIGRATION_UP_MISSING for a SQL file whose up section is empty. */
export function missingUpMessage(file: string): string {
  return [
    `${file}: its "-- migrate:up" section holds no statement`,
    '(a file from `offloop create` not written yet?).',
    "Write the migration's SQL after that line, or delete the file. Nothing was run.",
  ].join(' ');
}

/** MIGRATION_FILE_NAME: a file in the directory that is not named like a migration. */
export function fileNameMessage(file: string, moduleExtensions: readonly string[]): string {
  return [
    `${file} is not a valid migration file name:`,
    `expected <YYYYMMDDHHMMSS>_<name>.sql (or ${moduleExtensions.join(', ')}),`,
    'with a name of letters, digits and _. Create files with `offloop create <name>`.',
  ].join(' ');
}

/** MIGRATION_FILE_UNREADABLE: a file named like a migration that cannot be one. */
export function unreadableEntryMessage(file: string, problem: string): string {
  return (
    `${file} has a migration's name but ${problem}. ` +
    'Fix it, or rename it so that it does not look like a migration.'
  );
}

/** MIGRATION_FILE_UNREADABLE for a file that is not UTF-8; `at` says where, if known. */
export function invalidUtf8Message(place: string, at: string): string {
  return (
    `${place}: not valid UTF-8${at}. Migration files must be UTF-8; ` +
    're-save it as UTF-8 (for a Latin-1 file: iconv -f latin1 -t utf-8).'
  );
}

/** MIGRATION_FILE_UNREADABLE for a NUL byte at `place` (file:line:column). */
export function nulByteMessage(place: string, offset: number): string {
  return (
    `${place}: a NUL byte (0x00) at byte offset ${offset}. ` +
    'PostgreSQL would stop reading the file there; remove it.'
  );
}
