/**
 * Every failure offloop reports is an {@link OffloopError} subclass with a stable `code`.
 *
 * Codes come from one table (`codes.ts`) so the types cannot drift, and each one has an entry in
 * `docs/errors.md`. The classes are grouped by family: the files and configuration (`files.ts`,
 * `config.ts`), a migration that failed while running (`migration.ts`, one base class
 * {@link MigrationFailure}), the files disagreeing with the version table (`plan.ts`), a run
 * stopped from outside (`runtime.ts`), a fleet (`fleet.ts`), the host side (`host.ts`). Errors
 * cross the worker-thread boundary as plain envelopes (`envelope.ts`) and are rebuilt on the host
 * as the same class (`rebuild.ts`). A cleanup failure never hides the original failure (`suppressed.ts`).
 *
 * Messages that several places throw, or that take some assembling, are built beside their codes:
 * a family file ends with the builders of its errors' text (`missingFilesMessage`,
 * `dirtyMessage`, ...), and sentences several errors share are in `messages.ts`. A one-off
 * message (a lock timeout, a directory `create` cannot write to) is written at its throw site.
 */
export { isOffloopError, OffloopError } from './base.ts';
export type { OffloopErrorOptions, Serializable, SourceLocation } from './base.ts';
export { ERROR_CODES, FILES_ERROR_CODES } from './codes.ts';
export type { ErrorCode } from './codes.ts';
export { ConfigError, lockDatabaseMismatchMessage } from './config.ts';
export type { ConfigIssue } from './config.ts';
export { toEnvelope } from './envelope.ts';
export type { CauseEnvelope, ErrorEnvelope } from './envelope.ts';
export {
  DuplicateVersionError,
  MigrationFileNameError,
  MigrationFileUnreadableError,
  MigrationFileWriteError,
  MigrationModuleError,
  MigrationOptionError,
  MigrationsDirInaccessibleError,
  MigrationsDirNotFoundError,
  MigrationVersionsExhaustedError,
  fileNameMessage,
  invalidUtf8Message,
  missingUpMessage,
  nulByteMessage,
  MissingUpError,
  unreadableEntryMessage,
  SqlSyntaxError,
} from './files.ts';
export type { UnreadableReason } from './files.ts';
export {
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
export { FleetBehindError, FleetEmptyError, FleetFailedError } from './fleet.ts';
export { describeKept, lockLostError, resolveAdvice, withApplied } from './messages.ts';
export {
  LockNotAvailableError,
  lockNotAvailableMessage,
  MigrationFailedError,
  MigrationFailure,
  MigrationTimeoutError,
  migrationTimeoutMessage,
  MigrationTransactionControlError,
  StatementTimeoutError,
  transactionControlMessage,
} from './migration.ts';
export type {
  LockNotAvailableDetails,
  MigrationFailedDetails,
  MigrationFailureCode,
  MigrationResult,
} from './migration.ts';
export {
  changedFilesMessage,
  ChecksumMismatchError,
  dirtyMessage,
  MigrationDirtyError,
  MigrationFileMissingError,
  MigrationsPendingError,
  LintFailedError,
  MissingDownError,
  missingDownMessage,
  missingFilesMessage,
  nonTransactionalMessage,
  NonTransactionalStatementError,
  offlineModulesMessage,
  OfflineUnsupportedError,
  OutOfOrderError,
  outOfOrderMessage,
  pendingMessage,
  revertFilesMissingMessage,
  SingleTransactionConflictError,
  singleTransactionConflictMessage,
  TargetAmbiguousError,
  TargetNotFoundError,
} from './plan.ts';
export { fromEnvelope } from './rebuild.ts';
export {
  DatabaseError,
  DatabaseUnavailableError,
  LockLostError,
  LockTimeoutError,
  ownQueryMessage,
  RunAbortedError,
  RunTimeoutError,
} from './runtime.ts';
export { mapFailures, primaryFailure } from './suppressed.ts';
