/**
 * A migration's content from its bytes, now (a file read in discovery) or on first use (a file
 * whose checksum came from the cache: a no-op never reads it).
 */
import { readFileSync } from 'node:fs';
import { MigrationFileUnreadableError } from '../errors/index.ts';
import type { MigrationFile, SqlMigrationFile, SqlSection } from '../model/migration.ts';
import { decodeMigrationText } from './file-text.ts';
import { parseSqlMigration } from './sql-file.ts';

/** What discovery knows of a migration before its content: its name's parts and where it is. */
export type MigrationIdentity = {
  readonly version: string;
  readonly name: string;
  readonly file: string;
  readonly path: string;
  /** The extension without its dot: `sql`, `ts`, ... */
  readonly extension: string;
};

/** The content of a SQL migration, as {@link SqlMigrationFile} carries it. */
type SqlContent = Pick<SqlMigrationFile, 'source' | 'up' | 'down'>;

/**
 * sha256 of a file's bytes, hex: a migration's checksum. `node:crypto` is loaded on the first
 * call, not with this module: a call whose files are all in the cache never needs it.
 */
export function checksumOf(bytes: Uint8Array): string {
  const { createHash } = process.getBuiltinModule('node:crypto');
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The migration held by `bytes`, validated as discovery validates every new or changed file:
 * UTF-8 (and, for SQL, no NUL byte), and for SQL an up section and known marker options.
 */
export function migrationFromBytes(
  identity: MigrationIdentity,
  bytes: Uint8Array,
  checksum: string,
): MigrationFile {
  const { version, name, file, path, extension } = identity;
  const base = { version, name, file, path, checksum };
  // Node would decode a module's invalid UTF-8 to U+FFFD too: refuse it the same way. A NUL
  // byte is only refused in SQL, where the parser would stop at it; JavaScript allows it.
  const source = decodeMigrationText(file, bytes, extension === 'sql');
  if (extension !== 'sql') return { ...base, kind: 'module' };
  return { ...base, kind: 'sql', source, ...parseSqlMigration(file, source) };
}

/** A migration made by {@link migrationFromChecksum}, and whether its content was read yet. */
export type LazyMigration = {
  readonly migration: MigrationFile;
  /** Whether the content was read: until then, the object may serve another call. */
  readonly loaded: () => boolean;
};

/**
 * The migration whose bytes had `checksum` when they were last read, without reading them: a
 * module needs nothing more, and a SQL file's `source`, `up` and `down` are read on first use.
 * They are own enumerable properties (getters), so a spread, `structuredClone` or
 * `JSON.stringify` copies the content, as it would an eagerly read file's.
 */
export function migrationFromChecksum(
  identity: MigrationIdentity,
  checksum: string,
): LazyMigration {
  const { version, name, file, path, extension } = identity;
  const base = { version, name, file, path, checksum };
  if (extension !== 'sql') return { migration: { ...base, kind: 'module' }, loaded: () => false };
  const migration = Object.defineProperties(
    { ...base, kind: 'sql' },
    CONTENT_GETTERS,
  ) as SqlMigrationFile;
  const state: LazyState = { identity, checksum, content: null };
  lazyStates.set(migration, state);
  return { migration, loaded: () => state.content !== null };
}

/** What a lazy SQL migration needs to read its content, and the content once read. */
type LazyState = {
  readonly identity: MigrationIdentity;
  readonly checksum: string;
  content: SqlContent | null;
};

/** Each lazy SQL migration's state (see {@link CONTENT_GETTERS}). */
const lazyStates = new WeakMap<object, LazyState>();

/** The content of the lazy SQL migration `migration`, read on the first call. */
function contentOf(migration: object): SqlContent {
  const state = lazyStates.get(migration);
  if (state === undefined)
    throw new TypeError('offloop: not a migration made by migrationFromChecksum');
  state.content ??= readSqlContent(state.identity, state.checksum);
  return state.content;
}

/**
 * The getters of a lazy SQL migration's content. The same three functions for every migration
 * (their state is in {@link lazyStates}): every lazy migration then shares one shape in V8, where
 * getters made per object (closures in an object literal) gave each its own, about 1.5 KB each,
 * megabytes over a history of thousands of files.
 */
const CONTENT_GETTERS: PropertyDescriptorMap = {
  source: {
    enumerable: true,
    get(this: object): string {
      return contentOf(this).source;
    },
  },
  up: {
    enumerable: true,
    get(this: object): SqlSection {
      return contentOf(this).up;
    },
  },
  down: {
    enumerable: true,
    get(this: object): SqlSection | null {
      return contentOf(this).down;
    },
  },
};

/**
 * A SQL file's content, read now. Its bytes must still have the checksum the run already uses
 * (to plan, and to record in the version table): else the file changed during the run, and
 * running the new text under the old checksum would hide the edit, so this throws.
 */
function readSqlContent(identity: MigrationIdentity, checksum: string): SqlContent {
  const { file, path } = identity;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw changedDuringRun(file, 'can no longer be read', cause);
  }
  if (checksumOf(bytes) !== checksum) throw changedDuringRun(file, 'changed', undefined);
  const migration = migrationFromBytes(identity, bytes, checksum);
  if (migration.kind !== 'sql') throw new TypeError(`${file} is not a SQL migration.`);
  return { source: migration.source, up: migration.up, down: migration.down };
}

/** MIGRATION_FILE_UNREADABLE `changed-during-run`. */
function changedDuringRun(
  file: string,
  what: string,
  cause: unknown,
): MigrationFileUnreadableError {
  return new MigrationFileUnreadableError(
    `${file} ${what} while offloop was running: its bytes no longer match the checksum read ` +
      'when the run began. offloop ran none of it; run the command again.',
    { file, reason: 'changed-during-run', byteOffset: null, line: null, column: null },
    cause === undefined ? undefined : { cause },
  );
}
