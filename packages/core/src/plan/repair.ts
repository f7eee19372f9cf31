/** What `repair` would do, as a pure function of the plan state. */
import type { RepairAction } from '../model/results.ts';
import { failedRuns } from './checks.ts';
import { plan } from './plan.ts';
import type { PlanState } from './state.ts';

/**
 * Accept the checksums of edited applied migrations, clear failed non-transactional runs, and
 * (with `forgetMissing`) forget applied migrations whose files are gone; without it, those are
 * listed as skipped (`<version>_<name>`).
 */
export function repairActions(
  state: PlanState,
  forgetMissing: boolean,
): { actions: RepairAction[]; skippedMissing: string[] } {
  const result = plan(state.files, state.applied);
  const actions: RepairAction[] = [];
  const skippedMissing: string[] = [];
  for (const problem of result.problems) {
    if (problem.kind === 'changed')
      actions.push({
        kind: 'accept-checksum',
        version: problem.version,
        file: problem.file,
        from: problem.applied,
        to: problem.current,
      });
    else if (problem.kind === 'missing') {
      if (forgetMissing)
        actions.push({ kind: 'forget-missing', version: problem.version, name: problem.name });
      else skippedMissing.push(`${problem.version}_${problem.name}`);
    }
  }
  for (const problem of failedRuns(state)) {
    if (problem.kind === 'failed')
      actions.push({
        kind: 'resolve-failed',
        version: problem.version,
        file: problem.file,
        direction: problem.direction,
        statementsRun: problem.statementsRun,
      });
  }
  return { actions, skippedMissing };
}

/** The name each version is known by, from its file or else its version-table row. */
export function namesByVersion(state: PlanState): Map<string, string> {
  return new Map([
    ...state.files.map((f) => [f.version, f.name] as const),
    ...state.applied.map((r) => [r.version, r.name] as const),
  ]);
}
