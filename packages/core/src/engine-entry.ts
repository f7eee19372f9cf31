/**
 * `@offloop/core/engine`: discovery, parsing and the engine that talks to PostgreSQL through
 * slonik. Import it inside a worker thread (as `@offloop/worker` does), not on a busy host.
 */
export { discoverMigrations, MODULE_EXTENSIONS } from './discover.ts';
export {
  check,
  current,
  down,
  execute,
  history,
  redo,
  repair,
  stamp,
  status,
  up,
} from './engine.ts';
export { nonTransactionalStatement } from './transaction-rules.ts';
export type { EngineOptions } from './engine.ts';
export { lockKeyFor, LockSession, withLockSession, workLockKeyFor } from './lock.ts';
export type { LockOptions } from './lock.ts';
export { loadParser, splitSection } from './split.ts';
export type { Statement } from './split.ts';
export { findPgError } from './database.ts';
export type { PgErrorInfo } from './database.ts';
export { recordCrash } from './crash.ts';
export type { CrashOutcome, InFlightMigration } from './crash.ts';
export { defaultAppliedBy } from './applied-by.ts';
