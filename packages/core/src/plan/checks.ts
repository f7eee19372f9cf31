/**
 * The checks that can refuse a run before anything runs, as pure functions of the plan state and
 * the prepared migrations: failed non-transactional runs, edited migrations to revert, statements
 * that cannot run in a transaction, empty sections, single-transaction conflicts, offline SQL of
 * modules, pending migrations for `check`.
 */
import {
  MigrationDirtyError,
  MigrationsPendingError,
  MissingDownError,
  MissingUpError,
  NonTransactionalStatementError,
  OfflineUnsupportedError,
  resolveAdvice,
  SingleTransactionConflictError,
} from '../errors/index.ts';
import type { AppliedMigration, MigrationFile } from '../model/migration.ts';
import type { Prepared, Statement } from '../model/prepared.ts';
import type { PendingStatus, PlanProblem } from '../model/results.ts';
import { count } from '../util/count.ts';
import { assertRunnable, plan } from './plan.ts';
import type { PlanState } from './state.ts';
import { isTransactionControl, nonTransactionalStatement } from './transaction-rules.ts';

/**
 * Non-transactional migrations whose last run failed midway and that nothing has resolved since
 * (see `readDirty`). Each may have left part of its work in the database.
 */
export function failedRuns(state: PlanState): PlanProblem[] {
  const byVersion = new Map(state.files.map((file) => [file.version, file]));
  return state.dirty.map((entry) => {
    const file = byVersion.get(entry.version);
    return {
      kind: 'failed',
      version: entry.version,
      file: file?.file ?? `${entry.version}_${entry.name}`,
      direction: entry.direction === 'down' ? 'down' : 'up',
      statementsRun: entry.outcome === 'started' ? null : entry.statementsRun,
      at: entry.at,
      fileChanged: file !== undefined && file.checksum !== entry.checksum,
      fileMissing: file === undefined,
      interrupted: entry.outcome === 'started',
    };
  });
}

/**
 * Refuse to run while a failed non-transactional migration is unresolved. `strict` (for `check`)
 * also refuses those whose file changed since, which a run takes as the fix and tries again, and
 * those whose file is gone.
 */
export function assertNotDirty(state: PlanState, options: { strict?: boolean } = {}): void {
  const first = failedRuns(state).find(
    (problem) =>
      problem.kind === 'failed' &&
      (options.strict === true || !(problem.fileChanged || problem.fileMissing)),
  );
  if (first?.kind !== 'failed') return;
  const what = first.interrupted
    ? `${first.file} is a non-transactional migration whose \`${first.direction}\` started at ${first.at} and never finished (the process died or lost its connection)`
    : `${first.file} is a non-transactional migration that failed during \`${first.direction}\` at ${first.at}` +
      (first.statementsRun === null
        ? ''
        : first.statementsRun === 0
          ? ' before its first statement completed, leaving work behind (`offloop history --log` shows the error)'
          : ` after ${count(first.statementsRun, 'statement')} had run`);
  const next = first.fileMissing
    ? 'Its file is gone: once the database is as you want it, run `offloop repair` to clear this.'
    : `${first.fileChanged ? `The file has changed since; \`offloop ${first.direction}\` will try it again. ` : ''}${resolveAdvice(first.version, first.direction)}`;
  throw new MigrationDirtyError(`${what}; the database may hold part of it. ${next}`, {
    version: first.version,
    file: first.file,
    direction: first.direction,
    statementsRun: first.statementsRun ?? 0,
    statementCount: null,
    failedAt: first.at,
  });
}

/** Problems that stop `down`: edits to the migrations it reverts. */
export function assertRevertible(state: PlanState, rows: readonly AppliedMigration[]): void {
  const versions = new Set(rows.map((row) => row.version));
  const result = plan(state.files, state.applied);
  assertRunnable({
    ...result,
    problems: result.problems.filter(
      (problem) => problem.kind === 'changed' && versions.has(problem.version),
    ),
  });
}

/**
 * Refuse a statement PostgreSQL would not run inside a transaction (or transaction control) in a
 * section offloop runs in one.
 */
export function assertTransactional(
  migration: MigrationFile,
  section: 'up' | 'down',
  statements: readonly Statement[],
): void {
  for (const statement of statements) {
    const refused = nonTransactionalStatement(statement.kind, statement.node);
    if (refused === null) continue;
    const where = `${migration.file}:${statement.line}:${statement.column}`;
    const marker = `"-- migrate:${section} transaction:false"`;
    const which = section === 'down' ? 'Its down section' : 'This migration';
    throw new NonTransactionalStatementError(
      isTransactionControl(refused)
        ? `${where}: ${refused} in a ${section} section that offloop runs in its own transaction (with its version row). ` +
            `Remove the ${refused}, or add transaction:false to its marker line (${marker}) to manage transactions yourself. Nothing was run.`
        : `${where}: ${refused} cannot run inside a transaction, and ${which.toLowerCase()} runs in one. ` +
            `Add transaction:false to its marker line (${marker}), ideally with that statement alone in its migration. Nothing was run.`,
      {
        file: migration.file,
        line: statement.line,
        column: statement.column,
        version: migration.version,
        statement: refused,
        direction: section,
      },
    );
  }
}

/**
 * An empty up section is most likely a file from `offloop create` that nobody wrote yet:
 * applying it would record it, and writing it afterwards would be an edit.
 */
export function assertUpWritten(migration: MigrationFile, statements: readonly Statement[]): void {
  if (statements.length > 0) return;
  throw new MissingUpError(
    `${migration.file}: its "-- migrate:up" section holds no statement (a file from \`offloop create\` not written yet?). Write the migration's SQL after that line, or delete the file. Nothing was run.`,
    { file: migration.file },
  );
}

/** Refuse to revert migrations that have no down step. */
export function assertDownSteps(
  missing: readonly { readonly version: string; readonly file: string }[],
): void {
  if (missing.length === 0) return;
  throw new MissingDownError(
    `Cannot revert: ${missing.length} migration${missing.length === 1 ? ' has' : 's have'} no down step (a "-- migrate:down" section with statements in it, or a \`down\` export): ${missing.map((m) => m.file).join(', ')}. ` +
      'Write one, or if the migration cannot be reverted, leave the database as it is and record the version you want with `offloop stamp`. Nothing was reverted.',
    { migrations: [...missing] },
  );
}

/** A single-transaction run cannot include non-transactional migrations; refused before anything runs. */
export function assertSingleTransaction(items: readonly Prepared[]): void {
  const conflicts = items
    .filter((item) => !item.options.transaction)
    .map(({ migration }) => ({ version: migration.version, file: migration.file }));
  if (conflicts.length > 0) {
    throw new SingleTransactionConflictError(
      `--single-transaction cannot include non-transactional migrations: ${conflicts.map((m) => m.file).join(', ')}. Run without --single-transaction, or up to the version before them first. Nothing was run.`,
      { migrations: conflicts },
    );
  }
}

/** Offline SQL has nothing to print for a module migration. */
export function assertNoModules(items: readonly Prepared[]): void {
  const modules = items
    .filter((item) => item.migration.kind === 'module')
    .map(({ migration }) => ({ version: migration.version, file: migration.file }));
  if (modules.length > 0) {
    throw new OfflineUnsupportedError(
      `Cannot print SQL for JavaScript/TypeScript migrations: ${modules.map((m) => m.file).join(', ')}. Print a range without them (--from, --to) or apply them with \`offloop up\`.`,
      { migrations: modules },
    );
  }
}

/** `check`: what is pending, as the error that says so. */
export function pendingError(pending: readonly PendingStatus[]): MigrationsPendingError {
  return new MigrationsPendingError(
    `${pending.length} migration${pending.length === 1 ? ' is' : 's are'} not applied yet: ${pending.map((m) => m.file).join(', ')}. Apply ${pending.length === 1 ? 'it' : 'them'} with \`offloop up\` (\`offloop plan\` shows what it would run).`,
    { pending: pending.map(({ version, file }) => ({ version, file })) },
  );
}
