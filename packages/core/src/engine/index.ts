/**
 * `@offloop/core/engine`: discovery, parsing and the engine that talks to PostgreSQL through
 * slonik. Import it inside a worker thread (as `@offloop/worker` does), not on a busy host.
 */
export { discoverMigrations, MODULE_EXTENSIONS } from '../files/discover.ts';
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
} from './execute.ts';
export { nonTransactionalStatement } from '../plan/transaction-rules.ts';
export type { EngineOptions } from './execute.ts';
export { lockKeyFor, LockSession, withLockSession, workLockKeyFor } from './lock/lock.ts';
export type { LockOptions } from './lock/lock.ts';
export { loadParser, splitSection } from './prepare/split.ts';
export type { Statement } from './prepare/split.ts';
export { findPgError } from './db/pools.ts';
export type { PgErrorInfo } from './db/pools.ts';
export { recordCrash } from './ledger/crash.ts';
export type { CrashOutcome, InFlightMigration } from './ledger/crash.ts';
export { defaultAppliedBy } from '../config/applied-by.ts';
