/**
 * `@offloop/core/engine`: discovery, parsing and the engine that talks to PostgreSQL (through
 * `pg`; slonik only for a JavaScript/TypeScript migration). Import it inside a worker thread (as `@offloop/worker` does), not on a busy host.
 *
 * Inside: `execute.ts` dispatches a command to its operation (`operations/`), which runs in a
 * session (`session.ts`: the run lock of `lock/`, the pools of `db/`, the state read from the
 * version and log tables of `ledger/`), prepares the files (`prepare/`), and runs them
 * (`run/`), each migration applied by `apply/`. Planning and checks are pure, in `../plan/`.
 */
// First: on a Node.js older than offloop needs, fail here, before any other module runs.
import '../node-version.ts';
export { discoverMigrations, MODULE_EXTENSIONS } from '../files/discover.ts';
export { execute } from './execute.ts';
export { check } from './operations/check.ts';
export { current } from './operations/current.ts';
export { down } from './operations/down.ts';
export { history } from './operations/history.ts';
export { lint } from './operations/lint.ts';
export { redo } from './operations/redo.ts';
export { repair } from './operations/repair.ts';
export { stamp } from './operations/stamp.ts';
export { status } from './operations/status.ts';
export { up } from './operations/up.ts';
export { nonTransactionalStatement } from '../plan/transaction-rules.ts';
export type { EngineOptions } from './session.ts';
export { connectAhead } from './session.ts';
export { lockKeyFor, LockSession, withLockSession, workLockKeyFor } from './lock/lock.ts';
export type { LockOptions } from './lock/lock.ts';
export { loadParser } from './parse/parser.ts';
export { splitSection } from './prepare/split.ts';
export type { Statement } from './prepare/split.ts';
export { findPgError } from './db/pg-errors.ts';
export type { Db } from './db/db.ts';
export { raw, sql, type Sql } from './db/sql.ts';
export { withDatabaseErrors } from './db/pg-errors.ts';
export { withConnection } from './db/work-connection.ts';
export { keepConnection, takeConnection } from './db/kept-connections.ts';
export type { PgErrorInfo } from './db/pg-errors.ts';
export { readAppliedUnless, ledgerDigest } from './ledger/version-table.ts';
export { readDirty } from './ledger/log-table.ts';
export { recordCrash } from './ledger/crash-record.ts';
export type { CrashOutcome, InFlightMigration } from './ledger/crash-record.ts';
export { defaultAppliedBy } from '../config/applied-by.ts';
export {
  likePattern,
  scanSchemas,
  type ScanResult,
  type SchemaSelection,
  type ScannedSchema,
} from './fleet/scan.ts';
