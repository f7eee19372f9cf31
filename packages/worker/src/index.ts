/**
 * `@offloop/worker`: run PostgreSQL migrations in a worker thread. The host gets a promise,
 * typed progress events and typed errors; its event loop never runs migration code.
 */
// First: core's entry refuses a Node.js older than offloop needs, before any other module runs.
import '@offloop/core';
export { createMigrator } from './host/migrator.ts';
export type { Migrator } from './host/migrator.ts';
export type {
  CallOptions,
  CheckOptions,
  CheckResult,
  CurrentResult,
  DownOptions,
  DownResult,
  HistoryResult,
  MigrationRun,
  MigratorOptions,
  PlanResult,
  RedoOptions,
  RedoResult,
  RepairOptions,
  RepairResult,
  ScriptOptions,
  SqlResult,
  StampOptions,
  StampResult,
  StatusResult,
  UpOptions,
  UpResult,
} from './host/types.ts';
export { Readiness, ReadinessChangeEvent } from './host/readiness.ts';
export type { ReadinessState } from './host/readiness.ts';
export { healthCheck, healthStatus } from './host/health.ts';
export type { HealthStatus } from './host/health.ts';
