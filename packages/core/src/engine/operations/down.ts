import type { ResolvedConfig } from '../../config/config.ts';
import type { OperationArgs } from '../../config/operation-options.ts';
import type { MigrationResult } from '../../errors/index.ts';
import type { DownResult } from '../../model/results.ts';
import { assertNotDirty, assertRevertible } from '../../plan/checks.ts';
import { currentOf, filesFor, planDown } from '../../plan/state.ts';
import { prepareAll } from '../prepare/prepare.ts';
import { runEach } from '../run/each.ts';
import { withSession, type EngineOptions } from '../session.ts';

/** Revert applied migrations, the last applied first: one by default, `step` of them, or back to where the database was right after `to` was applied. */
export async function down(
  config: ResolvedConfig,
  options: EngineOptions & OperationArgs<'down'> = {},
): Promise<DownResult> {
  const started = performance.now();
  const reverted: MigrationResult[] = [];
  const current = await withSession(config, 'down', options, async (session) => {
    const rows = planDown(session.state, options);
    const files = filesFor(session.state, rows);
    assertRevertible(session.state, rows);
    assertNotDirty(session.state);
    await session.emit({
      type: 'plan:ready',
      direction: 'down',
      pending: rows.map(({ version, name }) => ({ version, name })),
      appliedCount: session.state.applied.length,
    });
    const prepared = await prepareAll(files, 'down', session.emit);
    if (prepared.length > 0) await session.ensureTables();
    await runEach(session, prepared, reverted);
    const gone = new Set(reverted.map((m) => m.version));
    return currentOf(session.state.applied.filter((row) => !gone.has(row.version)));
  });
  const durationMs = Math.round(performance.now() - started);
  await options.onProgress?.({ type: 'run:finished', applied: reverted.length, durationMs });
  return { reverted, current, durationMs };
}
