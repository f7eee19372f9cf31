/**
 * `@offloop/core`: migration semantics with no threads and no database driver at runtime, so the
 * host may import it. The engine that talks to PostgreSQL is the separate entry
 * `@offloop/core/engine`, imported only inside the worker.
 */
// First: on a Node.js older than offloop needs, fail here, before any other module runs.
import './node-version.ts';
export {
  ChecksumMismatchError,
  ConfigError,
  CreateDatabaseError,
  DatabaseUnavailableError,
  DatabaseError,
  DuplicateVersionError,
  EmbeddedPostgresError,
  EmbeddedPostgresNotInstalledError,
  ERROR_CODES,
  FILES_ERROR_CODES,
  FleetBehindError,
  FleetEmptyError,
  FleetFailedError,
  fromEnvelope,
  InternalError,
  isOffloopError,
  primaryFailure,
  LockLostError,
  LockTimeoutError,
  MigrationFailedError,
  MigrationFileMissingError,
  MigrationFileNameError,
  MigrationFileUnreadableError,
  MigrationFileWriteError,
  MigrationModuleError,
  MigrationOptionError,
  MigrationsDirNotFoundError,
  MigrationsDirInaccessibleError,
  MigrationVersionsExhaustedError,
  HarnessClosedError,
  HarnessWorkerFailedError,
  WorkerEntryNotFoundError,
  TemplateBuildTimeoutError,
  MigrationFailure,
  MigratorClosedError,
  MissingUpError,
  OffloopError,
  OutOfOrderError,
  RunAbortedError,
  SqlSyntaxError,
  TargetNotFoundError,
  toEnvelope,
  WorkerFailedError,
  RunTimeoutError,
  MigrationTimeoutError,
  MigrationTransactionControlError,
  StatementTimeoutError,
  LockNotAvailableError,
  WorkerOutOfMemoryError,
  WorkerUnresponsiveError,
  TargetAmbiguousError,
  MissingDownError,
  NonTransactionalStatementError,
  SingleTransactionConflictError,
  MigrationDirtyError,
  MigrationsPendingError,
  LintFailedError,
  OfflineUnsupportedError,
} from './errors/index.ts';
export type {
  CauseEnvelope,
  ConfigIssue,
  ErrorCode,
  ErrorEnvelope,
  LockNotAvailableDetails,
  MigrationFailedDetails,
  MigrationFailureCode,
  MigrationResult,
  OffloopErrorOptions,
  Serializable,
  SourceLocation,
  UnreadableReason,
} from './errors/index.ts';
export {
  configSchema,
  formatConfigIssues,
  IDENTIFIER_PATTERN,
  parseConfig,
  toConfigIssues,
  VERSION_PATTERN,
} from './config/config.ts';
export { parseDuration } from './config/duration.ts';
export { packageScopeOf } from './files/package-scope.ts';
export type { PackageScope } from './files/package-scope.ts';
export {
  callOptionsSchema,
  checkOptionsSchema,
  lintOptionsSchema,
  downOptionsSchema,
  redoOptionsSchema,
  repairOptionsSchema,
  scriptOptionsSchema,
  stampOptionsSchema,
  upOptionsSchema,
  OPERATION_SCHEMAS,
} from './config/operation-options.ts';
export type { OperationArgs, OperationInput } from './config/operation-options.ts';
export { DURATION, option, optionMeta } from './config/option-meta.ts';
export { duration } from './config/duration-option.ts';
export type { OptionDecode, OptionMeta } from './config/option-meta.ts';
export type {
  ConfigInput,
  LintConfig,
  ResolvedConfig,
  WorkerResourceLimits,
} from './config/config.ts';
export { isLintRuleId, LINT_RULE_IDS, LINT_RULES, lintFails } from './model/lint.ts';
export type {
  LintFinding,
  LintLevel,
  LintResult,
  LintRuleId,
  LintRuleInfo,
  LintSeverity,
  TableSize,
} from './model/lint.ts';
export { redactUrl, resolvePostgresUrl } from './config/connection-url.ts';
export { parsePostgresUrl } from './config/connection-url/parse-url.ts';
export { LIBPQ_ENVIRONMENT } from './config/connection-url/libpq-environment.ts';
export { quoteLiteral, versionTableOf, type VersionTable } from './sql/ddl.ts';
export { effectiveTimeouts } from './sql/settings.ts';
export type { EffectiveTimeouts } from './sql/settings.ts';
export { poll, retry } from './util/poll.ts';
export type { PollOptions, Polled, RetryOptions } from './util/poll.ts';
export type { ResolvedUrl } from './config/connection-url.ts';
export type { Environment } from './config/connection-url/libpq-environment.ts';
export type {
  LintFindingsEvent,
  LockAcquiredEvent,
  LockBlocker,
  LockWaitingEvent,
  MigrationBackendEvent,
  MigrationBlockedEvent,
  MigrationLockRetryEvent,
  MigrationFinishedEvent,
  MigrationProgressEvent,
  MigrationStartedEvent,
  PlanReadyEvent,
  ProgressEvent,
  ProgressEventType,
  ProgressListener,
  RunFinishedEvent,
  RunStartedEvent,
} from './model/events.ts';
export { assertRunnable, compareVersions, plan, planRevert, revertOrder } from './plan/plan.ts';
export type { Plan, PlanOptions, RevertOptions } from './plan/plan.ts';
export type {
  AppliedMigration,
  LogEntry,
  MigrationFile,
  ModuleMigrationFile,
  SectionOptions,
  SqlMigrationFile,
  SqlSection,
} from './model/migration.ts';
export { resolveTarget } from './plan/targets.ts';
export type { Target } from './plan/targets.ts';
export type {
  MigrationContext,
  MigrationModule,
  MigrationModuleExports,
} from './model/migration-context.ts';
export { describeKept } from './errors/index.ts';
export { messageOf } from './util/as-error.ts';
export { count } from './util/count.ts';
export { moduleUrl } from './util/module-url.ts';
export type {
  AppliedStatus,
  CheckResult,
  CurrentResult,
  DownResult,
  HistoryResult,
  PendingStatus,
  PlanProblem,
  PlanResult,
  PlanStep,
  RedoResult,
  RepairAction,
  RepairResult,
  SqlResult,
  StampResult,
  StatusResult,
  UpResult,
} from './model/results.ts';
export type {
  CommandName,
  CommandOf,
  CommandResult,
  CommandResults,
  EngineCommand,
} from './model/commands.ts';
export { fleetSchema, parseFleetConfig } from './config/fleet-options.ts';
export type {
  FleetInput,
  ResolvedFleetConfig,
  TargetsCallback,
  TargetSource,
} from './config/fleet-options.ts';
export { countOutcomes, fleetFailedMessage, notRunResult, targetErrorOf } from './model/fleet.ts';
export type {
  FleetCounts,
  FleetEvent,
  FleetStatusResult,
  FleetStop,
  FleetTarget,
  FleetUpResult,
  LocatedTarget,
  TargetError,
  TargetOutcome,
  TargetResult,
  TargetState,
  TargetStatus,
} from './model/fleet.ts';
