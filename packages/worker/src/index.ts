/**
 * `@offloop/worker`: run PostgreSQL migrations in a worker thread. The host gets a promise,
 * typed progress events and typed errors; its event loop never runs migration code.
 */
export { createMigrator } from './migrator.ts';
export type { Migrator } from './migrator.ts';
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
} from './types.ts';
export { Readiness, ReadinessChangeEvent } from './readiness.ts';
export type { ReadinessState } from './readiness.ts';
export { healthCheck, healthStatus } from './health.ts';
export type { HealthStatus } from './health.ts';
