import type { ResolvedConfig } from '../../config/config.ts';
import type { StatusResult } from '../../model/results.ts';
import { failedRuns } from '../../plan/checks.ts';
import { plan } from '../../plan/plan.ts';
import { withReadOnly, type EngineOptions } from '../session.ts';

/** Read-only: compare the directory with the version table. Takes no lock, creates nothing. */
export async function status(
  config: ResolvedConfig,
  options: EngineOptions = {},
): Promise<StatusResult> {
  return withReadOnly(config, 'status', options, (state) => {
    const result = plan(state.files, state.applied);
    return {
      applied: result.applied,
      pending: result.pending.map(({ version, name, file }) => ({ version, name, file })),
      problems: [...result.problems, ...failedRuns(state)],
      current: result.current,
      initialized: state.initialized,
    };
  });
}
