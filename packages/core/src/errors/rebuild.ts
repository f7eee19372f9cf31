/** Rebuilding an error from its envelope, as the class its code names. */
import type { OffloopError, OffloopErrorOptions } from './base.ts';
import type { ErrorCode } from './codes.ts';
import { isErrorEnvelope, type CauseEnvelope, type ErrorEnvelope } from './envelope.ts';
import { ConfigError } from './config.ts';
import { FleetBehindError, FleetEmptyError, FleetFailedError } from './fleet.ts';
import {
  DuplicateVersionError,
  MigrationFileNameError,
  MigrationFileUnreadableError,
  MigrationFileWriteError,
  MigrationModuleError,
  MigrationOptionError,
  MigrationsDirInaccessibleError,
  MigrationsDirNotFoundError,
  MigrationVersionsExhaustedError,
  MissingUpError,
  SqlSyntaxError,
} from './files.ts';
import {
  LockNotAvailableError,
  MigrationFailedError,
  MigrationTimeoutError,
  MigrationTransactionControlError,
  StatementTimeoutError,
} from './migration.ts';
import {
  ChecksumMismatchError,
  MigrationDirtyError,
  MigrationFileMissingError,
  MigrationsPendingError,
  LintFailedError,
  MissingDownError,
  NonTransactionalStatementError,
  OfflineUnsupportedError,
  OutOfOrderError,
  SingleTransactionConflictError,
  TargetAmbiguousError,
  TargetNotFoundError,
} from './plan.ts';
import {
  DatabaseError,
  DatabaseUnavailableError,
  LockLostError,
  LockTimeoutError,
  RunAbortedError,
  RunTimeoutError,
} from './runtime.ts';
import {
  CreateDatabaseError,
  EmbeddedPostgresError,
  EmbeddedPostgresNotInstalledError,
  HarnessClosedError,
  HarnessWorkerFailedError,
  WorkerEntryNotFoundError,
  InternalError,
  MigratorClosedError,
  TemplateBuildTimeoutError,
  WorkerFailedError,
  WorkerOutOfMemoryError,
  WorkerUnresponsiveError,
} from './host.ts';

type ErrorClass = new (
  message: string,
  details: never,
  options?: OffloopErrorOptions,
) => OffloopError;

const ERROR_CLASSES = {
  CONFIG_INVALID: ConfigError,
  MIGRATIONS_DIR_NOT_FOUND: MigrationsDirNotFoundError,
  MIGRATIONS_DIR_INACCESSIBLE: MigrationsDirInaccessibleError,
  MIGRATION_FILE_NAME_INVALID: MigrationFileNameError,
  MIGRATION_FILE_UNREADABLE: MigrationFileUnreadableError,
  MIGRATION_VERSION_DUPLICATE: DuplicateVersionError,
  MIGRATION_VERSIONS_EXHAUSTED: MigrationVersionsExhaustedError,
  MIGRATION_FILE_WRITE_FAILED: MigrationFileWriteError,
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
  LINT_FAILED: LintFailedError,
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
  FLEET_FAILED: FleetFailedError,
  FLEET_BEHIND: FleetBehindError,
  FLEET_EMPTY: FleetEmptyError,
  MIGRATOR_CLOSED: MigratorClosedError,
  HARNESS_CLOSED: HarnessClosedError,
  TEMPLATE_BUILD_TIMEOUT: TemplateBuildTimeoutError,
  WORKER_FAILED: WorkerFailedError,
  WORKER_OUT_OF_MEMORY: WorkerOutOfMemoryError,
  WORKER_UNRESPONSIVE: WorkerUnresponsiveError,
  HARNESS_WORKER_FAILED: HarnessWorkerFailedError,
  WORKER_ENTRY_NOT_FOUND: WorkerEntryNotFoundError,
  EMBEDDED_POSTGRES_FAILED: EmbeddedPostgresError,
  EMBEDDED_POSTGRES_NOT_INSTALLED: EmbeddedPostgresNotInstalledError,
  CREATE_DATABASE_FAILED: CreateDatabaseError,
  INTERNAL_ERROR: InternalError,
} as const satisfies Record<ErrorCode, ErrorClass>;

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
