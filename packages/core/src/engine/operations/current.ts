import type { ResolvedConfig } from '../../config/config.ts';
import type { CurrentResult } from '../../model/results.ts';
import { compareVersions } from '../../plan/plan.ts';
import { withReadOnly, type EngineOptions } from '../session.ts';

/** The newest applied migration. Read-only. */
export async function current(
  config: ResolvedConfig,
  options: EngineOptions = {},
): Promise<CurrentResult> {
  return withReadOnly(config, 'current', options, (state) => {
    const newest = [...state.applied].sort((a, b) => compareVersions(a.version, b.version)).at(-1);
    return {
      current: newest?.version ?? null,
      name: newest?.name ?? null,
      appliedAt: newest?.appliedAt ?? null,
    };
  });
}
