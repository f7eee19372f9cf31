/**
 * The planner: a pure function of the files on disk and the rows of the version table. No
 * database, no threads, no clock.
 */
import {
  changedFilesMessage,
  ChecksumMismatchError,
  MigrationFileMissingError,
  missingFilesMessage,
  OutOfOrderError,
  outOfOrderMessage,
  TargetNotFoundError,
} from '../errors/index.ts';
import type { AppliedMigration, MigrationFile } from '../model/migration.ts';
import type { AppliedStatus, PlanProblem } from '../model/results.ts';
import { count } from '../util/count.ts';
import { relativeSteps, resolveTarget } from './targets.ts';

/** What `status` returns and `up` starts from. */
export type Plan = {
  /** Applied migrations, oldest first. */
  readonly applied: readonly AppliedStatus[];
  /** Migrations to apply, in order (limited by the target, if any). */
  readonly pending: readonly MigrationFile[];
  /** Missing files, edited files and out-of-order migrations; `up` refuses to run while any exist. */
  readonly problems: readonly PlanProblem[];
  /** The newest applied version, or null for an empty database. */
  readonly current: string | null;
};

/** Options of {@link plan}. */
export type PlanOptions = {
  /** Stop after this version (inclusive). It must be a file on disk. */
  readonly to?: string | undefined;
};

/**
 * Compare the files on disk with the version table.
 *
 * @param files migrations on disk, in any order
 * @param applied rows of the version table, in any order
 */
export function plan(
  files: readonly MigrationFile[],
  applied: readonly AppliedMigration[],
  options: PlanOptions = {},
): Plan {
  const byVersion = new Map(files.map((file) => [file.version, file]));
  const appliedSorted = [...applied].sort((a, b) => compareVersions(a.version, b.version));
  const appliedVersions = new Set(appliedSorted.map((row) => row.version));
  const current = appliedSorted.at(-1)?.version ?? null;
  const problems: PlanProblem[] = [];

  const appliedStatus = appliedSorted.map((row): AppliedStatus => {
    const file = byVersion.get(row.version);
    if (file === undefined) {
      problems.push({ kind: 'missing', version: row.version, name: row.name });
    } else if (file.checksum !== row.checksum) {
      problems.push({
        kind: 'changed',
        version: row.version,
        file: file.file,
        applied: row.checksum,
        current: file.checksum,
      });
    }
    return { ...row, file: file?.file ?? null };
  });

  if (options.to !== undefined && !byVersion.has(options.to) && !appliedVersions.has(options.to)) {
    throw new TargetNotFoundError(`Target version ${options.to} matches no migration file.`, {
      target: options.to,
    });
  }

  const pending = [...files]
    .filter((file) => !appliedVersions.has(file.version))
    .sort((a, b) => compareVersions(a.version, b.version));
  for (const file of pending) {
    if (current !== null && compareVersions(file.version, current) < 0) {
      problems.push({
        kind: 'out-of-order',
        version: file.version,
        file: file.file,
        newestApplied: current,
      });
    }
  }

  const target = options.to;
  return {
    applied: appliedStatus,
    pending:
      target === undefined
        ? pending
        : pending.filter((file) => compareVersions(file.version, target) <= 0),
    problems,
    current,
  };
}

/**
 * Throw the typed error for the plan's problems, if any: missing files first, then edited files,
 * then out-of-order migrations. Each error lists every migration of its kind.
 */
export function assertRunnable(
  result: Plan,
  options: { readonly allowOutOfOrder?: boolean | undefined } = {},
): void {
  const missing = result.problems.filter((problem) => problem.kind === 'missing');
  if (missing.length > 0) {
    throw new MigrationFileMissingError(missingFilesMessage(missing), {
      migrations: missing.map(({ version, name }) => ({ version, name })),
    });
  }
  const changed = result.problems.filter((problem) => problem.kind === 'changed');
  if (changed.length > 0) {
    throw new ChecksumMismatchError(changedFilesMessage(changed), {
      migrations: changed.map(({ version, file, applied, current }) => ({
        version,
        file,
        applied,
        current,
      })),
    });
  }
  const outOfOrder =
    options.allowOutOfOrder === true
      ? []
      : result.problems.filter((problem) => problem.kind === 'out-of-order');
  const first = outOfOrder[0];
  if (first !== undefined) {
    throw new OutOfOrderError(outOfOrderMessage(outOfOrder, first.newestApplied), {
      migrations: outOfOrder.map(({ version, file }) => ({ version, file })),
      newestApplied: first.newestApplied,
    });
  }
}

/**
 * The applied migrations in the order `down` reverts them: the one applied last first, whatever
 * its version (after an out-of-order apply, the older version that was merged in goes first).
 * That is `applied_at` order, newest first. Migrations that share their `applied_at` (to the
 * millisecond: one single-transaction run, one stamp, or a fast run) were applied in version
 * order, so among them the newest version goes first.
 *
 * @param applied rows of the version table, in any order
 */
export function revertOrder(applied: readonly AppliedMigration[]): AppliedMigration[] {
  // `appliedAt` is a fixed-width UTC timestamp, so text order is time order.
  return [...applied].sort(
    (a, b) => compareText(b.appliedAt, a.appliedAt) || compareVersions(b.version, a.version),
  );
}

/** Options of {@link planRevert}: at most one of `step` and `to`. */
export type RevertOptions = {
  /**
   * Revert this many migrations, the last applied first. More than are applied is refused.
   * @default 1 (and nothing to revert on an empty database is no error then)
   */
  readonly step?: number | undefined;
  /**
   * Revert every migration applied after this one, which stays applied: a version or a prefix of
   * one (it must be applied), `base` for all of them, or `-N` for the last N applied.
   */
  readonly to?: string | undefined;
};

/**
 * What `down` reverts, in order: the last applied first (see {@link revertOrder}). `to` is a
 * point in the history of applies, so `down --to X` is `down` repeated until X is the migration
 * applied last. Refused with `TARGET_NOT_FOUND`, before anything runs: a `step` or `-N` past the
 * applied migrations, and a `to` that is not applied (a pending migration is no point to go back to).
 *
 * @param files migrations on disk, in any order (to resolve a prefix of a version)
 * @param applied rows of the version table, in any order
 */
export function planRevert(
  files: readonly MigrationFile[],
  applied: readonly AppliedMigration[],
  options: RevertOptions = {},
): AppliedMigration[] {
  const order = revertOrder(applied);
  const spec = options.to;
  if (spec === undefined) {
    const step = options.step;
    if (step !== undefined && step > order.length) {
      const applied =
        order.length === 0
          ? 'none is'
          : `only ${order.length} ${order.length === 1 ? 'is' : 'are'}`;
      throw new TargetNotFoundError(
        `Cannot revert ${count(step, 'migration')}: ${applied} applied. Nothing was reverted.`,
        { target: `-${step}` },
      );
    }
    return order.slice(0, step ?? 1);
  }
  const steps = relativeSteps(spec);
  if (steps !== null && steps <= 0) {
    if (-steps > order.length) {
      const applied = `${count(order.length, 'migration')} ${order.length === 1 ? 'is' : 'are'}`;
      throw new TargetNotFoundError(
        `Target ${spec} is out of range: ${applied} applied. Nothing was reverted.`,
        { target: spec },
      );
    }
    return order.slice(0, -steps);
  }
  const known = [...files.map((file) => file.version), ...applied.map((row) => row.version)];
  const target = resolveTarget(
    spec,
    known,
    order
      .map((row) => row.version)
      .sort(compareVersions)
      .at(-1) ?? null,
  );
  if (target.kind === 'base') return order;
  const index = order.findIndex((row) => row.version === target.version);
  if (index === -1) {
    const named = spec === target.version ? spec : `${spec} (${target.version})`;
    throw new TargetNotFoundError(
      `Target ${named} is not applied: ` +
        '`down --to` reverts what was applied after that migration, which stays applied. ' +
        'Name an applied version (`offloop status` lists them), or base. Nothing was reverted.',
      { target: spec },
    );
  }
  return order.slice(0, index);
}

/** Versions are fixed-width digit strings, so text order is time order. */
export function compareVersions(a: string, b: string): number {
  return compareText(a, b);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
