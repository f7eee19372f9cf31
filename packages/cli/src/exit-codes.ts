/**
 * The one table from error code to process exit code. `satisfies Record<ErrorCode, number>` makes
 * the type checker fail when core adds a code that is not mapped here; `docs/cli.md` documents
 * the table and a test compares the two. `bin.ts` imports this file before it has checked the
 * Node.js version: it must keep to `import type` (erased at build), so that it loads on any Node.
 */
import type { ErrorCode } from '@offloop/core';

/** The command ran and did what it was asked. */
export const EXIT_OK = 0;

/** The command line could not be understood: unknown command, missing or extra arguments. */
export const EXIT_USAGE = 2;

/**
 * The Node.js is older than offloop needs (`NODE_VERSION_UNSUPPORTED`, from `bin.ts`, before the
 * CLI is loaded): a broken installation, as for `INTERNAL_ERROR`.
 */
export const EXIT_NODE_VERSION_UNSUPPORTED = 1;

/** The run was cancelled by SIGTERM (a deploy system stopping it): 128 + 15, as shells report it. */
export const EXIT_TERMINATED = 143;

/** Exit code for each offloop error code; several codes share one exit code by kind of failure. */
export const EXIT_CODES = {
  // 1: a bug or a broken installation, not something the user did.
  INTERNAL_ERROR: 1,
  MIGRATOR_CLOSED: 1,
  HARNESS_CLOSED: 1,
  // The test harness's own thread died: its bug, or the machine's (no CLI command runs it).
  HARNESS_WORKER_FAILED: 1,
  // The library's files are not where it looks for them: a broken installation or bundle.
  WORKER_ENTRY_NOT_FOUND: 1,
  // 2: the configuration is wrong, the same as a usage error; nothing was done.
  CONFIG_INVALID: 2,
  // 3: the migration files are invalid; found before anything ran.
  MIGRATIONS_DIR_NOT_FOUND: 3,
  MIGRATIONS_DIR_INACCESSIBLE: 3,
  MIGRATION_VERSIONS_EXHAUSTED: 3,
  MIGRATION_FILE_WRITE_FAILED: 3,
  MIGRATION_FILE_NAME_INVALID: 3,
  MIGRATION_FILE_UNREADABLE: 3,
  MIGRATION_VERSION_DUPLICATE: 3,
  MIGRATION_UP_MISSING: 3,
  MIGRATION_OPTION_INVALID: 3,
  NON_TRANSACTIONAL_STATEMENT: 3,
  MIGRATION_DOWN_MISSING: 3,
  SINGLE_TRANSACTION_CONFLICT: 3,
  OFFLINE_UNSUPPORTED: 3,
  MIGRATION_MODULE_INVALID: 3,
  SQL_SYNTAX_ERROR: 3,
  // 4: a migration failed while running; it was rolled back, earlier ones stay applied.
  MIGRATION_FAILED: 4,
  STATEMENT_TIMEOUT: 4,
  LOCK_NOT_AVAILABLE: 4,
  MIGRATION_TIMEOUT: 4,
  MIGRATION_TRANSACTION_CONTROL: 4,
  // A migration that crashed or hung its worker thread: also a failed migration.
  // A worker thread that died during the call: most often a migration's doing (process.exit(), an
  // uncaught error in its code), as its message says.
  WORKER_FAILED: 4,
  WORKER_OUT_OF_MEMORY: 4,
  WORKER_UNRESPONSIVE: 4,
  // 5: the files and the version table disagree; `up` refuses to run.
  CHECKSUM_MISMATCH: 5,
  MIGRATION_FILE_MISSING: 5,
  MIGRATION_OUT_OF_ORDER: 5,
  TARGET_NOT_FOUND: 5,
  TARGET_AMBIGUOUS: 5,
  MIGRATION_DIRTY: 5,
  // 8: `check` found pending migrations (and nothing worse).
  MIGRATIONS_PENDING: 8,
  FLEET_BEHIND: 8,
  // 2: a fleet command found no target (`--allow-empty` accepts that): its selection is wrong.
  FLEET_EMPTY: 2,
  // 4: a fleet target's migration failed (or the fleet stopped before every target ran).
  FLEET_FAILED: 4,
  // 9: lint found what it must not (`lint`; `up`, `check` when strict); nothing ran.
  LINT_FAILED: 9,
  // 6: the migration lock: another runner held it too long, or it was lost.
  LOCK_TIMEOUT: 6,
  LOCK_LOST: 6,
  // The test harness waited too long for another process's template build.
  TEMPLATE_BUILD_TIMEOUT: 6,
  // The run's own time limit.
  RUN_TIMEOUT: 6,
  // 7: no usable database: unreachable, refused, no rights for offloop's own tables, or the embedded PostgreSQL did not start.
  DATABASE_UNAVAILABLE: 7,
  DATABASE_ERROR: 7,
  EMBEDDED_POSTGRES_FAILED: 7,
  EMBEDDED_POSTGRES_NOT_INSTALLED: 7,
  CREATE_DATABASE_FAILED: 7,
  // 130: interrupted (Ctrl-C), as shells report SIGINT.
  RUN_ABORTED: 130,
} as const satisfies Record<ErrorCode, number>;

/** The exit code for an offloop error code. */
export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[code];
}

/** What each exit code means, for `--help` and `docs/cli.md`. */
export const EXIT_CODE_MEANINGS: Readonly<Record<number, string>> = {
  [EXIT_OK]: 'success',
  1: 'internal error (a bug, or a broken installation: a Node.js older than 24, say)',
  [EXIT_USAGE]: 'invalid command line or configuration; nothing was done',
  3: 'invalid migration files; nothing was run',
  4:
    'a migration failed (an error, a timeout, or its worker thread crashed) and was rolled back; ' +
    'earlier ones stay applied (fleet up: a target failed, or the fleet stopped early)',
  5:
    'the files and the version table disagree (edited, missing or out-of-order migrations, a ' +
    'failed non-transactional migration, unknown --to)',
  6: 'migration lock not acquired in time or lost, or the run took longer than its time limit',
  7:
    "database unavailable, or it refused offloop's own queries (rights, a read-only server), or " +
    'the embedded PostgreSQL did not start',
  8:
    'check: migrations are pending (and nothing else is wrong); fleet check: a target is not up ' +
    'to date',
  9:
    'lint found an error (--strict: or a warning); up and check refuse to run when strict; ' +
    'nothing was run',
  130: 'interrupted (Ctrl-C, SIGINT); the run was cancelled and rolled back',
  [EXIT_TERMINATED]: 'terminated (SIGTERM); the run was cancelled and rolled back',
};
