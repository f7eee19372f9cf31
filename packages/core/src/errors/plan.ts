/** The files and the version table disagree, or what was asked cannot be planned. Nothing ran. */
import { count } from '../util/count.ts';
import type { PlanProblem } from '../model/results.ts';
import { OffloopError, type SourceLocation } from './base.ts';
import { resolveAdvice } from './messages.ts';

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

/**
 * Lint found an error (or, strict, a warning) in a pending migration and the run was strict
 * (`up --strict`, the config's `lint.strict`): nothing ran. The findings are in `details`.
 */
export class LintFailedError extends OffloopError<
  'LINT_FAILED',
  {
    readonly findings: readonly {
      readonly rule: string;
      readonly severity: string;
      readonly file: string;
      readonly line: number;
      readonly column: number;
      readonly message: string;
    }[];
  }
> {
  readonly code = 'LINT_FAILED';
}

/** Offline SQL was asked for migrations that are JavaScript/TypeScript modules: they have no SQL to print. */
export class OfflineUnsupportedError extends OffloopError<
  'OFFLINE_UNSUPPORTED',
  { readonly migrations: readonly { readonly version: string; readonly file: string }[] }
> {
  readonly code = 'OFFLINE_UNSUPPORTED';
}

// Messages: the text of the errors above, one builder per message, so a throw site reads as what
// it refuses and the sentences read whole here.

type Listed = { readonly file: string };

/** `a.sql, b.sql`: the files of the migrations an error lists. */
function files(migrations: readonly Listed[]): string {
  return migrations.map((m) => m.file).join(', ');
}

/** MIGRATION_FILE_MISSING from a plan: applied migrations whose file is gone. */
export function missingFilesMessage(
  missing: readonly { readonly version: string; readonly name: string }[],
): string {
  const one = missing.length === 1;
  const list = missing.map(({ version, name }) => `${version}_${name}`).join(', ');
  const applied = count(missing.length, 'applied migration');
  return [
    `${applied} ${one ? 'has' : 'have'} no file any more: ${list}.`,
    `Restore the ${one ? 'file' : 'files'} from version control;`,
    `or, if ${one ? 'it was' : 'they were'} removed on purpose, forget ${one ? 'it' : 'them'}`,
    'with `offloop repair --forget-missing` (look first with --dry-run).',
  ].join(' ');
}

/** MIGRATION_FILE_MISSING for `down`: migrations to revert whose file is gone. */
export function revertFilesMissingMessage(
  missing: readonly { readonly version: string; readonly name: string }[],
): string {
  const one = missing.length === 1;
  const list = missing.map(({ version, name }) => `${version}_${name}`).join(', ');
  return (
    `Cannot revert ${list}: the file${one ? ' is' : 's are'} gone. ` +
    `Restore ${one ? 'it' : 'them'} from version control.`
  );
}

/** CHECKSUM_MISMATCH: applied migrations edited on disk. */
export function changedFilesMessage(changed: readonly Listed[]): string {
  const one = changed.length === 1;
  const applied = count(changed.length, 'applied migration');
  return [
    `${applied} changed on disk since ${one ? 'it was' : 'they were'} applied: ${files(changed)}.`,
    'Revert the edit and put the change in a new migration;',
    'or, if the edit was deliberate and the database already matches it,',
    'accept it with `offloop repair` (look first with --dry-run).',
  ].join(' ');
}

/** MIGRATION_OUT_OF_ORDER: pending migrations older than the newest applied one. */
export function outOfOrderMessage(outOfOrder: readonly Listed[], newestApplied: string): string {
  const one = outOfOrder.length === 1;
  const pending = count(outOfOrder.length, 'pending migration');
  return [
    `${pending} ${one ? 'is' : 'are'} older than the newest applied one (${newestApplied}):`,
    `${files(outOfOrder)}.`,
    `If ${one ? 'it comes' : 'they come'} from a merged branch and can run after the newer ones,`,
    'pass --allow-out-of-order (allowOutOfOrder: true in the library);',
    `otherwise rename ${one ? 'it' : 'them'} with a newer version.`,
  ].join(' ');
}

/** MIGRATION_DOWN_MISSING: migrations to revert that have no down step. */
export function missingDownMessage(missing: readonly Listed[]): string {
  const have = missing.length === 1 ? ' has' : 's have';
  return [
    `Cannot revert: ${missing.length} migration${have} no down step`,
    '(a "-- migrate:down" section with statements in it, or a `down` export):',
    `${files(missing)}.`,
    'Write one, or if the migration cannot be reverted, leave the database as it is',
    'and record the version you want with `offloop stamp`. Nothing was reverted.',
  ].join(' ');
}

/** SINGLE_TRANSACTION_CONFLICT: non-transactional migrations in a single-transaction run. */
export function singleTransactionConflictMessage(conflicts: readonly Listed[]): string {
  return [
    `--single-transaction cannot include non-transactional migrations: ${files(conflicts)}.`,
    'Run without --single-transaction, or up to the version before them first.',
    'Nothing was run.',
  ].join(' ');
}

/** OFFLINE_UNSUPPORTED: offline SQL asked for module migrations. */
export function offlineModulesMessage(modules: readonly Listed[]): string {
  return [
    `Cannot print SQL for JavaScript/TypeScript migrations: ${files(modules)}.`,
    'Print a range without them (--from, --to) or apply them with `offloop up`.',
  ].join(' ');
}

/** MIGRATIONS_PENDING: what `check` found not applied yet. */
export function pendingMessage(pending: readonly Listed[]): string {
  const one = pending.length === 1;
  return [
    `${pending.length} migration${one ? ' is' : 's are'} not applied yet: ${files(pending)}.`,
    `Apply ${one ? 'it' : 'them'} with \`offloop up\``,
    '(`offloop plan` shows what it would run).',
  ].join(' ');
}

/** NON_TRANSACTIONAL_STATEMENT: `refused` at `where`, in a section offloop runs in a transaction. */
export function nonTransactionalMessage(
  where: string,
  refused: string,
  section: 'up' | 'down',
  transactionControl: boolean,
): string {
  const marker = `"-- migrate:${section} transaction:false"`;
  const which = section === 'down' ? 'its down section' : 'this migration';
  return transactionControl
    ? `${where}: ${refused} in a ${section} section ` +
        'that offloop runs in its own transaction (with its version row). ' +
        `Remove the ${refused}, or add transaction:false to its marker line (${marker}) ` +
        'to manage transactions yourself. Nothing was run.'
    : `${where}: ${refused} cannot run inside a transaction, and ${which} runs in one. ` +
        `Add transaction:false to its marker line (${marker}), ` +
        'ideally with that statement alone in its migration. Nothing was run.';
}

/** MIGRATION_DIRTY: a non-transactional migration that failed (or died) midway, and what to do. */
export function dirtyMessage(failed: Extract<PlanProblem, { kind: 'failed' }>): string {
  const { file, direction, at, statementsRun } = failed;
  const how = failed.interrupted
    ? `whose \`${direction}\` started at ${at} and never finished ` +
      '(the process died or lost its connection)'
    : `that failed during \`${direction}\` at ${at}` +
      (statementsRun === null
        ? ''
        : statementsRun === 0
          ? ' before its first statement completed, leaving work behind ' +
            '(`offloop history --log` shows the error)'
          : ` after ${count(statementsRun, 'statement')} had run`);
  const retry = failed.fileChanged
    ? `The file has changed since; \`offloop ${direction}\` will try it again. `
    : '';
  const next = failed.fileMissing
    ? 'Its file is gone: once the database is as you want it, run `offloop repair` to clear this.'
    : `${retry}${resolveAdvice(failed.version, direction)}`;
  const what = `${file} is a non-transactional migration ${how}`;
  return `${what}; the database may hold part of it. ${next}`;
}
