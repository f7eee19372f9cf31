/**
 * Every failure offloop reports is an {@link OffloopError} subclass with a stable `code`.
 *
 * Codes come from one table ({@link ERROR_CODES}) so the types cannot drift, and each one has an
 * entry in `docs/errors.md`. Errors cross the worker-thread boundary as plain
 * {@link ErrorEnvelope}s and are rebuilt on the host as the same class, with the same `code` and
 * `details` ({@link toEnvelope}, {@link fromEnvelope}): structured clone keeps only an error's
 * message, stack and cause. A cleanup failure never hides the original failure: a
 * `SuppressedError` (or `AggregateError`) travels as its primary failure, with the others in
 * {@link OffloopError.suppressed}.
 */

/** Every error code offloop can report, as a literal table. */
export const ERROR_CODES = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  MIGRATIONS_DIR_NOT_FOUND: 'MIGRATIONS_DIR_NOT_FOUND',
  MIGRATION_FILE_NAME_INVALID: 'MIGRATION_FILE_NAME_INVALID',
  MIGRATION_FILE_UNREADABLE: 'MIGRATION_FILE_UNREADABLE',
  MIGRATION_VERSION_DUPLICATE: 'MIGRATION_VERSION_DUPLICATE',
  MIGRATION_UP_MISSING: 'MIGRATION_UP_MISSING',
  MIGRATION_OPTION_INVALID: 'MIGRATION_OPTION_INVALID',
  MIGRATION_MODULE_INVALID: 'MIGRATION_MODULE_INVALID',
  SQL_SYNTAX_ERROR: 'SQL_SYNTAX_ERROR',
  MIGRATION_FAILED: 'MIGRATION_FAILED',
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  MIGRATION_FILE_MISSING: 'MIGRATION_FILE_MISSING',
  MIGRATION_OUT_OF_ORDER: 'MIGRATION_OUT_OF_ORDER',
  TARGET_NOT_FOUND: 'TARGET_NOT_FOUND',
  TARGET_AMBIGUOUS: 'TARGET_AMBIGUOUS',
  MIGRATION_DOWN_MISSING: 'MIGRATION_DOWN_MISSING',
  NON_TRANSACTIONAL_STATEMENT: 'NON_TRANSACTIONAL_STATEMENT',
  SINGLE_TRANSACTION_CONFLICT: 'SINGLE_TRANSACTION_CONFLICT',
  MIGRATION_DIRTY: 'MIGRATION_DIRTY',
  MIGRATIONS_PENDING: 'MIGRATIONS_PENDING',
  OFFLINE_UNSUPPORTED: 'OFFLINE_UNSUPPORTED',
  LOCK_TIMEOUT: 'LOCK_TIMEOUT',
  LOCK_LOST: 'LOCK_LOST',
  DATABASE_UNAVAILABLE: 'DATABASE_UNAVAILABLE',
  DATABASE_ERROR: 'DATABASE_ERROR',
  RUN_ABORTED: 'RUN_ABORTED',
  RUN_TIMEOUT: 'RUN_TIMEOUT',
  MIGRATION_TIMEOUT: 'MIGRATION_TIMEOUT',
  MIGRATION_TRANSACTION_CONTROL: 'MIGRATION_TRANSACTION_CONTROL',
  STATEMENT_TIMEOUT: 'STATEMENT_TIMEOUT',
  LOCK_NOT_AVAILABLE: 'LOCK_NOT_AVAILABLE',
  MIGRATOR_CLOSED: 'MIGRATOR_CLOSED',
  WORKER_FAILED: 'WORKER_FAILED',
  WORKER_OUT_OF_MEMORY: 'WORKER_OUT_OF_MEMORY',
  WORKER_UNRESPONSIVE: 'WORKER_UNRESPONSIVE',
  EMBEDDED_POSTGRES_FAILED: 'EMBEDDED_POSTGRES_FAILED',
  CREATE_DATABASE_FAILED: 'CREATE_DATABASE_FAILED',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

/** A stable error code, one of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** JSON-like data: what `details` may hold so that it survives structured clone and `--json`. */
export type Serializable =
  | string
  | number
  | boolean
  | null
  | readonly Serializable[]
  | { readonly [key: string]: Serializable | undefined };

/** Where in a migration file something happened. Lines and columns are 1-based. */
export type SourceLocation = {
  /** Path of the file relative to the migrations directory. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
};

/**
 * The brand of offloop errors, on {@link OffloopError}'s prototype. `Symbol.for` is one registry
 * for every realm of a thread, so an error from another copy of this package (a duplicate
 * install) or from a `vm` context carries the same brand: see {@link isOffloopError}.
 */
const OFFLOOP_ERROR: unique symbol = Symbol.for('offloop.error');

/** Options of an offloop error's constructor: the `cause`, and failures suppressed in its favour. */
export type OffloopErrorOptions = ErrorOptions & {
  /** Failures that came after this one while cleaning up; see {@link OffloopError.suppressed}. */
  readonly suppressed?: readonly Error[] | undefined;
};

/** Base class of every error offloop throws. Check `error.code`, not the message. */
export abstract class OffloopError<
  C extends ErrorCode = ErrorCode,
  D extends { readonly [key: string]: Serializable | undefined } = {
    readonly [key: string]: Serializable | undefined;
  },
> extends Error {
  /** The stable code; see `docs/errors.md`. */
  abstract readonly code: C;
  /** Serialisable facts about the failure: files, versions, SQLSTATE, results so far. */
  readonly details: D;
  /**
   * Failures that came after this one, while cleaning up after it (releasing the lock, closing a
   * connection), and were suppressed so as not to hide it, in the order they happened; absent
   * when there were none. A `SuppressedError` (or `AggregateError`) raised in the worker arrives
   * on the host as its primary failure, with the others here (as Java's `getSuppressed()`).
   */
  declare readonly suppressed?: readonly Error[];

  constructor(message: string, details: D, options?: OffloopErrorOptions) {
    super(message, options);
    this.details = details;
    if (options?.suppressed !== undefined && options.suppressed.length > 0)
      this.suppressed = Object.freeze([...options.suppressed]);
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** The brand {@link isOffloopError} recognises across realms and copies of this package. */
  get [OFFLOOP_ERROR](): true {
    return true;
  }

  /** The error as plain data, as `--json` prints it. */
  toJSON(): ErrorEnvelope {
    return toEnvelope(this);
  }
}

type Details = { readonly [key: string]: Serializable | undefined };

/** One problem found in the configuration. */
export type ConfigIssue = { readonly path: string; readonly message: string };

/** The configuration did not validate. `details.issues` lists every problem at once. */
export class ConfigError extends OffloopError<
  'CONFIG_INVALID',
  { readonly issues: readonly ConfigIssue[] }
> {
  readonly code = 'CONFIG_INVALID';
}

/** The migrations directory does not exist or is not a directory. */
export class MigrationsDirNotFoundError extends OffloopError<
  'MIGRATIONS_DIR_NOT_FOUND',
  { readonly dir: string }
> {
  readonly code = 'MIGRATIONS_DIR_NOT_FOUND';
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
  | 'read-failed';

/**
 * An entry with a migration's name cannot be read as a file (a dangling symbolic link, a link
 * loop, a directory, no read permission), or a file's bytes are not what offloop would run:
 * invalid UTF-8, or a NUL byte, where PostgreSQL would stop reading. `byteOffset` is the first
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

/** What a finished migration reports. */
export type MigrationResult = {
  readonly version: string;
  readonly name: string;
  readonly file: string;
  readonly direction: 'up' | 'down';
  readonly durationMs: number;
};

/** Details of {@link MigrationFailedError}. */
export type MigrationFailedDetails = {
  readonly version: string;
  readonly name: string;
  readonly file: string;
  /** 1-based line and column of the failing position (the statement's start, or PostgreSQL's error position within it). */
  readonly line: number | null;
  readonly column: number | null;
  /** 1-based index of the failing statement in the section, for SQL migrations. */
  readonly statement: number | null;
  readonly statementCount: number | null;
  readonly direction: 'up' | 'down';
  /** Whether the migration ran in a transaction (and so left nothing behind). */
  readonly transactional: boolean;
  /** Statements that completed before the failure; in a non-transactional migration they stay applied. */
  readonly statementsRun: number;
  /** PostgreSQL's SQLSTATE, when the database reported the failure. */
  readonly sqlstate: string | null;
  readonly detail: string | null;
  readonly hint: string | null;
  /** Migrations applied by this run before the failure; they stay applied (unless the run was one transaction). */
  readonly applied: readonly MigrationResult[];
  /**
   * INVALID indexes a failed `CREATE INDEX CONCURRENTLY` / `REINDEX ... CONCURRENTLY` of a
   * non-transactional migration left behind, as PostgreSQL names them; empty otherwise.
   */
  readonly invalidIndexes: readonly string[];
};

/** A migration failed while running; its transaction was rolled back and the run stopped. */
export class MigrationFailedError extends OffloopError<'MIGRATION_FAILED', MigrationFailedDetails> {
  readonly code = 'MIGRATION_FAILED';
}

/** An applied migration's file changed since it was applied. */
export class ChecksumMismatchError extends OffloopError<
  'CHECKSUM_MISMATCH',
  {
    readonly migrations: readonly {
      readonly version: string;
      readonly file: string;
      readonly applied: string;
      readonly current: string;
    }[];
  }
> {
  readonly code = 'CHECKSUM_MISMATCH';
}

/** An applied migration has no file any more. */
export class MigrationFileMissingError extends OffloopError<
  'MIGRATION_FILE_MISSING',
  { readonly migrations: readonly { readonly version: string; readonly name: string }[] }
> {
  readonly code = 'MIGRATION_FILE_MISSING';
}

/** A pending migration is older than the newest applied one. */
export class OutOfOrderError extends OffloopError<
  'MIGRATION_OUT_OF_ORDER',
  {
    readonly migrations: readonly { readonly version: string; readonly file: string }[];
    readonly newestApplied: string;
  }
> {
  readonly code = 'MIGRATION_OUT_OF_ORDER';
}

/** `up({ to })` names a version that has no migration file. */
export class TargetNotFoundError extends OffloopError<
  'TARGET_NOT_FOUND',
  { readonly target: string }
> {
  readonly code = 'TARGET_NOT_FOUND';
}

/** A version prefix matches more than one migration. */
export class TargetAmbiguousError extends OffloopError<
  'TARGET_AMBIGUOUS',
  { readonly target: string; readonly matches: readonly string[] }
> {
  readonly code = 'TARGET_AMBIGUOUS';
}

/** Migrations to revert have no down section (SQL) or no `down` export (modules). Nothing ran. */
export class MissingDownError extends OffloopError<
  'MIGRATION_DOWN_MISSING',
  { readonly migrations: readonly { readonly version: string; readonly file: string }[] }
> {
  readonly code = 'MIGRATION_DOWN_MISSING';
}

/** A transactional migration holds a statement PostgreSQL refuses inside a transaction. Nothing ran. */
export class NonTransactionalStatementError extends OffloopError<
  'NON_TRANSACTIONAL_STATEMENT',
  SourceLocation & {
    readonly version: string;
    readonly statement: string;
    readonly direction: 'up' | 'down';
  }
> {
  readonly code = 'NON_TRANSACTIONAL_STATEMENT';
}

/** `--single-transaction` was asked for a run that holds a non-transactional migration. */
export class SingleTransactionConflictError extends OffloopError<
  'SINGLE_TRANSACTION_CONFLICT',
  { readonly migrations: readonly { readonly version: string; readonly file: string }[] }
> {
  readonly code = 'SINGLE_TRANSACTION_CONFLICT';
}

/** A non-transactional migration failed midway last time; the run will not continue past it until resolved. */
export class MigrationDirtyError extends OffloopError<
  'MIGRATION_DIRTY',
  {
    readonly version: string;
    readonly file: string;
    readonly direction: 'up' | 'down';
    readonly statementsRun: number;
    readonly statementCount: number | null;
    readonly failedAt: string;
  }
> {
  readonly code = 'MIGRATION_DIRTY';
}

/** `check` found migrations waiting to be applied. */
export class MigrationsPendingError extends OffloopError<
  'MIGRATIONS_PENDING',
  { readonly pending: readonly { readonly version: string; readonly file: string }[] }
> {
  readonly code = 'MIGRATIONS_PENDING';
}

/** Offline SQL was asked for migrations that are JavaScript/TypeScript modules: they have no SQL to print. */
export class OfflineUnsupportedError extends OffloopError<
  'OFFLINE_UNSUPPORTED',
  { readonly migrations: readonly { readonly version: string; readonly file: string }[] }
> {
  readonly code = 'OFFLINE_UNSUPPORTED';
}

/** Another runner held the migration lock for longer than `lockTimeout`. */
export class LockTimeoutError extends OffloopError<
  'LOCK_TIMEOUT',
  {
    readonly lockKey: string;
    readonly waitedMs: number;
    readonly holderPid: number | null;
    readonly holderApplication: string | null;
  }
> {
  readonly code = 'LOCK_TIMEOUT';
}

/**
 * The migration lock's connection ended during the run (terminated, a network failure, a server
 * restart). What the run had in flight was cancelled on the server and rolled back before this
 * was reported; `details.applied` lists what stays applied, `details.version`/`file` the
 * migration that was running, if one was.
 */
export class LockLostError extends OffloopError<
  'LOCK_LOST',
  {
    readonly lockKey: string;
    readonly applied: readonly MigrationResult[];
    readonly version: string | null;
    readonly file: string | null;
  }
> {
  readonly code = 'LOCK_LOST';
}

/** The database could not be reached or refused the connection. */
export class DatabaseUnavailableError extends OffloopError<
  'DATABASE_UNAVAILABLE',
  {
    readonly url: string;
    readonly sqlstate: string | null;
    readonly applied?: readonly MigrationResult[];
  }
> {
  readonly code = 'DATABASE_UNAVAILABLE';
}

/**
 * PostgreSQL refused one of offloop's own queries (not a migration's): creating or reading the
 * version and log tables, taking the lock. Usually rights (`42501`) or a read-only server (`25006`).
 */
export class DatabaseError extends OffloopError<
  'DATABASE_ERROR',
  {
    readonly url: string;
    readonly sqlstate: string;
    readonly detail: string | null;
    readonly hint: string | null;
    readonly applied?: readonly MigrationResult[];
  }
> {
  readonly code = 'DATABASE_ERROR';
}

/** The caller's `AbortSignal` fired. `details.applied` lists what finished before. */
export class RunAbortedError extends OffloopError<
  'RUN_ABORTED',
  { readonly applied: readonly MigrationResult[] }
> {
  readonly code = 'RUN_ABORTED';
}

/** The whole call ran longer than its `timeout`; it was cancelled like an abort. */
export class RunTimeoutError extends OffloopError<
  'RUN_TIMEOUT',
  { readonly timeoutMs: number; readonly applied: readonly MigrationResult[] }
> {
  readonly code = 'RUN_TIMEOUT';
}

/** One migration ran longer than its `migrationTimeout`; it was cancelled and rolled back. */
export class MigrationTimeoutError extends OffloopError<
  'MIGRATION_TIMEOUT',
  MigrationFailedDetails & { readonly timeoutMs: number }
> {
  readonly code = 'MIGRATION_TIMEOUT';
}

/**
 * A JavaScript/TypeScript migration tried to end or reshape the transaction offloop runs it in
 * (`COMMIT`, `ROLLBACK`, `SAVEPOINT`/`RELEASE` misuse, `SET TRANSACTION`, ...) through
 * `ctx.connection`. The statement was not run; the migration was rolled back and nothing of it
 * was recorded. `details.command` names what it tried.
 */
export class MigrationTransactionControlError extends OffloopError<
  'MIGRATION_TRANSACTION_CONTROL',
  MigrationFailedDetails & { readonly command: string }
> {
  readonly code = 'MIGRATION_TRANSACTION_CONTROL';
}

/** PostgreSQL cancelled a statement for exceeding `statement_timeout` (SQLSTATE 57014). */
export class StatementTimeoutError extends OffloopError<
  'STATEMENT_TIMEOUT',
  MigrationFailedDetails
> {
  readonly code = 'STATEMENT_TIMEOUT';
}

/** A statement waited longer than `lock_timeout` for a table lock (SQLSTATE 55P03). */
export class LockNotAvailableError extends OffloopError<
  'LOCK_NOT_AVAILABLE',
  MigrationFailedDetails
> {
  readonly code = 'LOCK_NOT_AVAILABLE';
}

/** A call on a migrator after `close()`. */
export class MigratorClosedError extends OffloopError<'MIGRATOR_CLOSED', Details> {
  readonly code = 'MIGRATOR_CLOSED';
}

/** The worker thread died or could not start. */
export class WorkerFailedError extends OffloopError<
  'WORKER_FAILED',
  {
    readonly reason: string;
    readonly applied?: readonly MigrationResult[];
    readonly file?: string | null;
  }
> {
  readonly code = 'WORKER_FAILED';
}

/** The worker thread ran out of memory (its `resourceLimits`) and was stopped. */
export class WorkerOutOfMemoryError extends OffloopError<
  'WORKER_OUT_OF_MEMORY',
  { readonly reason: string; readonly applied: readonly MigrationResult[] }
> {
  readonly code = 'WORKER_OUT_OF_MEMORY';
}

/** The worker did not stop within the grace period after a cancel (a busy loop, say) and was terminated. */
export class WorkerUnresponsiveError extends OffloopError<
  'WORKER_UNRESPONSIVE',
  { readonly graceMs: number; readonly applied: readonly MigrationResult[] }
> {
  readonly code = 'WORKER_UNRESPONSIVE';
}

/** The embedded PostgreSQL could not be initialised or started. */
export class EmbeddedPostgresError extends OffloopError<
  'EMBEDDED_POSTGRES_FAILED',
  { readonly dataDir: string; readonly reason: string }
> {
  readonly code = 'EMBEDDED_POSTGRES_FAILED';
}

/** The server refused `CREATE DATABASE` for a test template or clone (the test harness). */
export class CreateDatabaseError extends OffloopError<
  'CREATE_DATABASE_FAILED',
  {
    readonly database: string;
    readonly template: string | null;
    readonly sqlstate: string | null;
    readonly reason: string;
  }
> {
  readonly code = 'CREATE_DATABASE_FAILED';
}

/** Anything else: a bug in offloop. The `cause` has the original error. */
export class InternalError extends OffloopError<'INTERNAL_ERROR', Details> {
  readonly code = 'INTERNAL_ERROR';
}

type ErrorClass = new (
  message: string,
  details: never,
  options?: OffloopErrorOptions,
) => OffloopError;

const ERROR_CLASSES = {
  CONFIG_INVALID: ConfigError,
  MIGRATIONS_DIR_NOT_FOUND: MigrationsDirNotFoundError,
  MIGRATION_FILE_NAME_INVALID: MigrationFileNameError,
  MIGRATION_FILE_UNREADABLE: MigrationFileUnreadableError,
  MIGRATION_VERSION_DUPLICATE: DuplicateVersionError,
  MIGRATION_UP_MISSING: MissingUpError,
  MIGRATION_OPTION_INVALID: MigrationOptionError,
  MIGRATION_MODULE_INVALID: MigrationModuleError,
  SQL_SYNTAX_ERROR: SqlSyntaxError,
  MIGRATION_FAILED: MigrationFailedError,
  CHECKSUM_MISMATCH: ChecksumMismatchError,
  MIGRATION_FILE_MISSING: MigrationFileMissingError,
  MIGRATION_OUT_OF_ORDER: OutOfOrderError,
  TARGET_NOT_FOUND: TargetNotFoundError,
  TARGET_AMBIGUOUS: TargetAmbiguousError,
  MIGRATION_DOWN_MISSING: MissingDownError,
  NON_TRANSACTIONAL_STATEMENT: NonTransactionalStatementError,
  SINGLE_TRANSACTION_CONFLICT: SingleTransactionConflictError,
  MIGRATION_DIRTY: MigrationDirtyError,
  MIGRATIONS_PENDING: MigrationsPendingError,
  OFFLINE_UNSUPPORTED: OfflineUnsupportedError,
  LOCK_TIMEOUT: LockTimeoutError,
  LOCK_LOST: LockLostError,
  DATABASE_UNAVAILABLE: DatabaseUnavailableError,
  DATABASE_ERROR: DatabaseError,
  RUN_ABORTED: RunAbortedError,
  RUN_TIMEOUT: RunTimeoutError,
  MIGRATION_TIMEOUT: MigrationTimeoutError,
  MIGRATION_TRANSACTION_CONTROL: MigrationTransactionControlError,
  STATEMENT_TIMEOUT: StatementTimeoutError,
  LOCK_NOT_AVAILABLE: LockNotAvailableError,
  MIGRATOR_CLOSED: MigratorClosedError,
  WORKER_FAILED: WorkerFailedError,
  WORKER_OUT_OF_MEMORY: WorkerOutOfMemoryError,
  WORKER_UNRESPONSIVE: WorkerUnresponsiveError,
  EMBEDDED_POSTGRES_FAILED: EmbeddedPostgresError,
  CREATE_DATABASE_FAILED: CreateDatabaseError,
  INTERNAL_ERROR: InternalError,
} as const satisfies Record<ErrorCode, ErrorClass>;

/** An error as plain data, safe to post between threads or print as JSON. */
export type ErrorEnvelope = {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: Details;
  readonly cause?: CauseEnvelope | ErrorEnvelope | undefined;
  /** Failures suppressed in this one's favour (see {@link OffloopError.suppressed}); absent when none. */
  readonly suppressed?: readonly (CauseEnvelope | ErrorEnvelope)[] | undefined;
};

/** A non-offloop cause (a PostgreSQL or Node error) as plain data. */
export type CauseEnvelope = {
  readonly name: string;
  readonly message: string;
  readonly code?: string | undefined;
  readonly stack?: string | undefined;
  readonly cause?: CauseEnvelope | ErrorEnvelope | undefined;
  readonly suppressed?: readonly (CauseEnvelope | ErrorEnvelope)[] | undefined;
};

// `Error.isError` (Node 24) recognises errors of every realm, where `instanceof Error` sees only
// this one's; TypeScript's es2024 library does not declare it yet.
const isError = (value: unknown): value is Error =>
  (Error as ErrorConstructor & { isError(value: unknown): value is Error }).isError(value);

/**
 * True when `value` is an offloop error, also across realms, by shape: an instance of this copy's
 * class, or an error from a `vm` context or another copy of this package (a duplicate install)
 * that carries offloop's brand or is a native error, with a known `code`, a `message` and a
 * `details` object. An {@link ErrorEnvelope} is data, not an error: use {@link fromEnvelope}.
 */
export function isOffloopError(value: unknown): value is OffloopError {
  if (value instanceof OffloopError) return true;
  if (typeof value !== 'object' || value === null) return false;
  if ((value as { [OFFLOOP_ERROR]?: unknown })[OFFLOOP_ERROR] !== true && !isError(value))
    return false;
  const { code, message, details } = value as {
    code?: unknown;
    message?: unknown;
    details?: unknown;
  };
  return (
    typeof code === 'string' &&
    Object.hasOwn(ERROR_CODES, code) &&
    typeof message === 'string' &&
    typeof details === 'object' &&
    details !== null
  );
}

/** How deep causes and suppressed failures are followed; deeper ones are cut off. */
const MAX_DEPTH = 5;

function isSuppressedError(value: unknown): value is SuppressedError {
  return (
    value instanceof SuppressedError ||
    (isError(value) &&
      value.name === 'SuppressedError' &&
      'error' in value &&
      'suppressed' in value)
  );
}

function isAggregateError(value: unknown): value is AggregateError {
  return (
    value instanceof AggregateError ||
    (isError(value) &&
      value.name === 'AggregateError' &&
      Array.isArray((value as { errors?: unknown }).errors))
  );
}

/**
 * The failure that counts in `error`, and the failures suppressed in its favour in the order they
 * happened, one flat list. In a `SuppressedError` the original failure is `suppressed` and the one
 * raised while cleaning up is `error` (nested once per failing step); in an `AggregateError` the
 * first offloop error counts, else the first error; an error rebuilt from an envelope lists its
 * own in {@link OffloopError.suppressed}. Anything else is itself, with nothing suppressed.
 */
export function primaryFailure(error: unknown): {
  readonly primary: unknown;
  readonly suppressed: readonly unknown[];
} {
  return splitFailure(error, 0);
}

function splitFailure(
  error: unknown,
  depth: number,
): { readonly primary: unknown; readonly suppressed: readonly unknown[] } {
  if (depth >= MAX_DEPTH) return { primary: error, suppressed: [] };
  const flat = (
    parts: readonly { readonly primary: unknown; readonly suppressed: readonly unknown[] }[],
  ) => parts.flatMap((part) => [part.primary, ...part.suppressed]);
  if (isSuppressedError(error)) {
    const original = splitFailure(error.suppressed, depth + 1);
    return {
      primary: original.primary,
      suppressed: [...original.suppressed, ...flat([splitFailure(error.error, depth + 1)])],
    };
  }
  if (isAggregateError(error) && error.errors.length > 0) {
    const errors: readonly unknown[] = error.errors;
    const parts = errors.map((part) => splitFailure(part, depth + 1));
    const chosen = Math.max(
      0,
      parts.findIndex((part) => isOffloopError(part.primary)),
    );
    return {
      primary: parts[chosen]?.primary,
      suppressed: [
        ...(parts[chosen]?.suppressed ?? []),
        ...flat(parts.filter((_, index) => index !== chosen)),
      ],
    };
  }
  const own = isError(error) ? (error as { suppressed?: unknown }).suppressed : undefined;
  return {
    primary: error,
    suppressed: Array.isArray(own)
      ? flat(own.map((part: unknown) => splitFailure(part, depth + 1)))
      : [],
  };
}

/**
 * Apply `map` to each failure inside `error`, keeping the structure: the parts of a
 * `SuppressedError` or `AggregateError` (nested too) are mapped and rebuilt around, any other
 * error is mapped as a whole. A whole that `map` changes is taken as one failure. For turning a
 * driver's errors into offloop errors without losing the original failure or its cleanup's.
 */
export function mapFailures(error: unknown, map: (failure: unknown) => unknown): unknown {
  return mapEach(error, map, 0);
}

function mapEach(error: unknown, map: (failure: unknown) => unknown, depth: number): unknown {
  const whole = map(error);
  if (whole !== error || depth >= MAX_DEPTH) return whole;
  if (isSuppressedError(error)) {
    const cleanup = mapEach(error.error, map, depth + 1);
    const original = mapEach(error.suppressed, map, depth + 1);
    return cleanup === error.error && original === error.suppressed
      ? error
      : new SuppressedError(cleanup, original, error.message);
  }
  if (isAggregateError(error)) {
    const errors: readonly unknown[] = error.errors;
    const parts = errors.map((part) => mapEach(part, map, depth + 1));
    return parts.every((part, index) => part === errors[index])
      ? error
      : new AggregateError(
          parts,
          error.message,
          error.cause === undefined ? undefined : { cause: error.cause },
        );
  }
  return error;
}

/**
 * Turn an error into an envelope. An offloop error keeps its code; a `SuppressedError` or
 * `AggregateError` becomes its primary failure's envelope with the others in `suppressed`;
 * anything else becomes `INTERNAL_ERROR` with it as cause.
 */
export function toEnvelope(error: unknown): ErrorEnvelope {
  const described = describe(error, 0);
  if (isErrorEnvelope(described)) return described;
  const { suppressed, ...cause } = described;
  return {
    code: 'INTERNAL_ERROR',
    message: `Unexpected error: ${cause.message}`,
    details: {},
    cause,
    ...(suppressed === undefined ? {} : { suppressed }),
  };
}

function describe(value: unknown, depth: number): CauseEnvelope | ErrorEnvelope {
  const { primary, suppressed } = splitFailure(value, depth);
  const envelope = describeOne(primary, depth);
  return suppressed.length === 0 || depth >= MAX_DEPTH
    ? envelope
    : { ...envelope, suppressed: suppressed.map((failure) => describeOne(failure, depth + 1)) };
}

/** One failure as plain data, its causes followed, without its suppressed failures. */
function describeOne(value: unknown, depth: number): CauseEnvelope | ErrorEnvelope {
  const cause = (of: unknown) =>
    of === undefined || depth >= MAX_DEPTH ? undefined : describe(of, depth + 1);
  if (isOffloopError(value) && depth < MAX_DEPTH) {
    return {
      code: value.code,
      message: value.message,
      details: value.details,
      cause: cause(value.cause),
    };
  }
  if (isError(value) || value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: value.message,
      code: typeof code === 'string' ? code : undefined,
      stack: value.stack,
      cause: cause(value.cause),
    };
  }
  return { name: typeof value, message: String(value) };
}

function isErrorEnvelope(value: CauseEnvelope | ErrorEnvelope): value is ErrorEnvelope {
  return 'details' in value && typeof value.code === 'string' && value.code in ERROR_CLASSES;
}

/**
 * Rebuild the error an envelope describes, as the same class with the same `code` and `details`,
 * and its suppressed failures in {@link OffloopError.suppressed}.
 */
export function fromEnvelope(envelope: ErrorEnvelope): OffloopError {
  const Class: ErrorClass = ERROR_CLASSES[envelope.code] ?? InternalError;
  return new Class(envelope.message, envelope.details as never, rebuiltOptions(envelope));
}

function rebuiltOptions(envelope: CauseEnvelope | ErrorEnvelope): OffloopErrorOptions {
  // No `cause` key at all when there was none: `'cause' in error` stays false.
  return {
    ...(envelope.cause === undefined ? {} : { cause: causeFromEnvelope(envelope.cause) }),
    ...(envelope.suppressed === undefined
      ? {}
      : { suppressed: envelope.suppressed.map(causeFromEnvelope) }),
  };
}

function causeFromEnvelope(envelope: CauseEnvelope | ErrorEnvelope): Error {
  if (isErrorEnvelope(envelope)) return fromEnvelope(envelope);
  const { suppressed, ...options } = rebuiltOptions(envelope);
  const error = new Error(envelope.message, options);
  error.name = envelope.name;
  if (envelope.code !== undefined) Object.assign(error, { code: envelope.code });
  if (envelope.stack !== undefined) error.stack = envelope.stack;
  if (suppressed !== undefined && suppressed.length > 0) Object.assign(error, { suppressed });
  return error;
}
