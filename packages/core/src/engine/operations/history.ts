import type { ResolvedConfig } from '../../config/config.ts';
import type { HistoryResult } from '../../model/results.ts';
import { plan } from '../../plan/plan.ts';
import { versionTableOf } from '../../sql/ddl.ts';
import { logTableExists, readLog } from '../ledger/log-table.ts';
import { withReadOnly, type EngineOptions } from '../session.ts';

/** Applied migrations newest first, and the log of everything that happened. Read-only. */
export async function history(
  config: ResolvedConfig,
  options: EngineOptions = {},
): Promise<HistoryResult> {
  return withReadOnly(config, 'history', options, async (state, pool) => {
    const result = plan(state.files, state.applied);
    const versionTable = versionTableOf(config);
    const log = (await logTableExists(pool, versionTable)) ? await readLog(pool, versionTable) : [];
    return { applied: [...result.applied].reverse(), log };
  });
}
