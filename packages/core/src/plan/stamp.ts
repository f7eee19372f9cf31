/** What `stamp` would record, as a pure function of the plan state. */
import type { AppliedMigration, MigrationFile } from '../model/migration.ts';
import { compareVersions } from './plan.ts';
import { currentOf, knownVersions, type PlanState } from './state.ts';
import { resolveTarget } from './targets.ts';

/** The rows `stamp` adds and removes to record the database at `to`, and the version it leaves. */
export type StampPlan = {
  /** Files up to the target that are not applied: recorded as applied, without running. */
  readonly toStamp: readonly MigrationFile[];
  /** Applied migrations after the target: forgotten. */
  readonly toForget: readonly AppliedMigration[];
  readonly current: string | null;
};

/** Files up to `to` become applied, applied migrations after it are forgotten; `base` forgets all. */
export function planStamp(state: PlanState, to: string): StampPlan {
  const target = resolveTarget(to, knownVersions(state), currentOf(state.applied));
  const appliedVersions = new Set(state.applied.map((row) => row.version));
  const within = (version: string) =>
    target.kind === 'version' && compareVersions(version, target.version) <= 0;
  const toStamp = state.files.filter(
    (file) => within(file.version) && !appliedVersions.has(file.version),
  );
  const toForget = state.applied.filter((row) => !within(row.version));
  return {
    toStamp,
    toForget,
    current:
      target.kind === 'base'
        ? null
        : currentOf([...state.applied.filter((row) => within(row.version)), ...toStamp]),
  };
}
