/**
 * The checks that can refuse a run before anything runs, as pure functions of the plan state and
 * the prepared migrations: failed non-transactional runs, edited migrations to revert, statements
 * that cannot run in a transaction, empty sections, single-transaction conflicts, offline SQL of
 * modules, pending migrations for `check`.
 */
import {
  dirtyMessage,
  MigrationDirtyError,
  MigrationsPendingError,
  MissingDownError,
  missingDownMessage,
  MissingUpError,
  missingUpMessage,
  NonTransactionalStatementError,
  nonTransactionalMessage,
  OfflineUnsupportedError,
  offlineModulesMessage,
  pendingMessage,
  SingleTransactionConflictError,
  singleTransactionConflictMessage,
} from '../errors/index.ts';
import type { AppliedMigration, MigrationFile } from '../model/migration.ts';
import type { Prepared, Statement } from '../model/prepared.ts';
import type { PendingStatus, PlanProblem } from '../model/results.ts';
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
  throw new MigrationDirtyError(dirtyMessage(first), {
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
    throw new NonTransactionalStatementError(
      nonTransactionalMessage(where, refused, section, isTransactionControl(refused)),
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
  throw new MissingUpError(missingUpMessage(migration.file), { file: migration.file });
}

/** Refuse to revert migrations that have no down step. */
export function assertDownSteps(
  missing: readonly { readonly version: string; readonly file: string }[],
): void {
  if (missing.length === 0) return;
  throw new MissingDownError(missingDownMessage(missing), { migrations: [...missing] });
}

/** A single-transaction run cannot include non-transactional migrations; refused before anything runs. */
export function assertSingleTransaction(items: readonly Prepared[]): void {
  const conflicts = items
    .filter((item) => !item.options.transaction)
    .map(({ migration }) => ({ version: migration.version, file: migration.file }));
  if (conflicts.length > 0) {
    throw new SingleTransactionConflictError(singleTransactionConflictMessage(conflicts), {
      migrations: conflicts,
    });
  }
}

/** Offline SQL has nothing to print for a module migration. */
export function assertNoModules(items: readonly Prepared[]): void {
  const modules = items
    .filter((item) => item.migration.kind === 'module')
    .map(({ migration }) => ({ version: migration.version, file: migration.file }));
  if (modules.length > 0) {
    throw new OfflineUnsupportedError(offlineModulesMessage(modules), { migrations: modules });
  }
}

/** `check`: what is pending, as the error that says so. */
export function pendingError(pending: readonly PendingStatus[]): MigrationsPendingError {
  return new MigrationsPendingError(pendingMessage(pending), {
    pending: pending.map(({ version, file }) => ({ version, file })),
  });
}
