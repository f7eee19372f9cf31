/** The files and the version table disagree, or what was asked cannot be planned. Nothing ran. */
import { OffloopError, type SourceLocation } from './base.ts';

/** An applied migration's file changed since it was applied. */
export class ChecksumMismatchError extends OffloopError<
  'CHECKSUM_MISMATCH',
  {
    readonly migrations: readonly {
      readonly version: string;
      readonly file: string;
      readonly applied: string;
      readonly current: string;
    }[];
  }
> {
  readonly code = 'CHECKSUM_MISMATCH';
}

/** An applied migration has no file any more. */
export class MigrationFileMissingError extends OffloopError<
  'MIGRATION_FILE_MISSING',
  { readonly migrations: readonly { readonly version: string; readonly name: string }[] }
> {
  readonly code = 'MIGRATION_FILE_MISSING';
}

/** A pending migration is older than the newest applied one. */
export class OutOfOrderError extends OffloopError<
  'MIGRATION_OUT_OF_ORDER',
  {
    readonly migrations: readonly { readonly version: string; readonly file: string }[];
    readonly newestApplied: string;
  }
> {
  readonly code = 'MIGRATION_OUT_OF_ORDER';
}

/** `up({ to })` names a version that has no migration file. */
export class TargetNotFoundError extends OffloopError<
  'TARGET_NOT_FOUND',
  { readonly target: string }
> {
  readonly code = 'TARGET_NOT_FOUND';
}

/** A version prefix matches more than one migration. */
export class TargetAmbiguousError extends OffloopError<
  'TARGET_AMBIGUOUS',
  { readonly target: string; readonly matches: readonly string[] }
> {
  readonly code = 'TARGET_AMBIGUOUS';
}

/** Migrations to revert have no down section (SQL) or no `down` export (modules). Nothing ran. */
export class MissingDownError extends OffloopError<
  'MIGRATION_DOWN_MISSING',
  { readonly migrations: readonly { readonly version: string; readonly file: string }[] }
> {
  readonly code = 'MIGRATION_DOWN_MISSING';
}

/** A transactional migration holds a statement PostgreSQL refuses inside a transaction. Nothing ran. */
export class NonTransactionalStatementError extends OffloopError<
  'NON_TRANSACTIONAL_STATEMENT',
  SourceLocation & {
    readonly version: string;
    readonly statement: string;
    readonly direction: 'up' | 'down';
  }
> {
  readonly code = 'NON_TRANSACTIONAL_STATEMENT';
}

/** `--single-transaction` was asked for a run that holds a non-transactional migration. */
export class SingleTransactionConflictError extends OffloopError<
  'SINGLE_TRANSACTION_CONFLICT',
  { readonly migrations: readonly { readonly version: string; readonly file: string }[] }
> {
  readonly code = 'SINGLE_TRANSACTION_CONFLICT';
}

/** A non-transactional migration failed midway last time; the run will not continue past it until resolved. */
export class MigrationDirtyError extends OffloopError<
  'MIGRATION_DIRTY',
  {
    readonly version: string;
    readonly file: string;
    readonly direction: 'up' | 'down';
    readonly statementsRun: number;
    readonly statementCount: number | null;
    readonly failedAt: string;
  }
> {
  readonly code = 'MIGRATION_DIRTY';
}

/** `check` found migrations waiting to be applied. */
export class MigrationsPendingError extends OffloopError<
  'MIGRATIONS_PENDING',
  { readonly pending: readonly { readonly version: string; readonly file: string }[] }
> {
  readonly code = 'MIGRATIONS_PENDING';
}

/** Offline SQL was asked for migrations that are JavaScript/TypeScript modules: they have no SQL to print. */
export class OfflineUnsupportedError extends OffloopError<
  'OFFLINE_UNSUPPORTED',
  { readonly migrations: readonly { readonly version: string; readonly file: string }[] }
> {
  readonly code = 'OFFLINE_UNSUPPORTED';
}
