/**
 * What a run plans from: the files on disk and what the database records (the version table's
 * rows, the unresolved failures of the log), and the plans `up` and `down` derive from it. Pure.
 */
import { MigrationFileMissingError, revertFilesMissingMessage } from '../errors/index.ts';
import type { AppliedMigration, LogEntry, MigrationFile } from '../model/migration.ts';
import { compareVersions, plan, planRevert, type Plan } from './plan.ts';
import { resolveTarget } from './targets.ts';

/** The files, and what the database records about them, read without a lock. */
export type PlanState = {
  readonly files: readonly MigrationFile[];
  readonly applied: readonly AppliedMigration[];
  /** Non-transactional migrations whose last run failed midway, unresolved (see `readDirty`). */
  readonly dirty: readonly LogEntry[];
  /** Whether the version table exists. */
  readonly initialized: boolean;
};

/** Every version a target may name: the files' and the applied ones'. */
export function knownVersions(state: PlanState): string[] {
  return [...state.files.map((file) => file.version), ...state.applied.map((row) => row.version)];
}

/** The newest applied version, or null. */
export function currentOf(applied: readonly Pick<AppliedMigration, 'version'>[]): string | null {
  return [...applied].sort((a, b) => compareVersions(a.version, b.version)).at(-1)?.version ?? null;
}

/** What `up` (to `to`, a version, a prefix, `base` or a relative step) would apply. */
export function planUp(state: PlanState, to: string | undefined): Plan {
  const target =
    to === undefined
      ? undefined
      : resolveTarget(to, knownVersions(state), currentOf(state.applied));
  if (target?.kind === 'base') return { ...plan(state.files, state.applied), pending: [] };
  return plan(state.files, state.applied, { to: target?.version });
}

/** The applied migrations `down` reverts, the last applied first (see `planRevert`). */
export function planDown(
  state: PlanState,
  options: { readonly step?: number | undefined; readonly to?: string | undefined },
): AppliedMigration[] {
  return planRevert(state.files, state.applied, options);
}

/** The files of the applied migrations `rows`, in their order; refused when one is gone. */
export function filesFor(state: PlanState, rows: readonly AppliedMigration[]): MigrationFile[] {
  const byVersion = new Map(state.files.map((file) => [file.version, file]));
  const missing = rows.filter((row) => !byVersion.has(row.version));
  if (missing.length > 0) {
    throw new MigrationFileMissingError(revertFilesMissingMessage(missing), {
      migrations: missing.map(({ version, name }) => ({ version, name })),
    });
  }
  return rows
    .map((row) => byVersion.get(row.version))
    .filter((file): file is MigrationFile => file !== undefined);
}

/**
 * The state a database at version `from` would be in, for offline SQL: every file up to it
 * applied (none for `base`), nothing failed.
 */
export function assumedAt(files: readonly MigrationFile[], from: string): PlanState {
  const target = resolveTarget(
    from,
    files.map((file) => file.version),
    null,
  );
  const applied: AppliedMigration[] =
    target.kind === 'base'
      ? []
      : files
          .filter((file) => compareVersions(file.version, target.version) <= 0)
          .map((file) => ({
            version: file.version,
            name: file.name,
            checksum: file.checksum,
            appliedAt: '',
            durationMs: 0,
            appliedBy: '',
          }));
  return { files, applied, dirty: [], initialized: true };
}
