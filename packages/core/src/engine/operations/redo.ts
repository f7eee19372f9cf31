import type { ResolvedConfig } from '../../config/config.ts';
import type { OperationArgs } from '../../config/operation-options.ts';
import type { MigrationResult } from '../../errors/index.ts';
import type { RedoResult } from '../../model/results.ts';
import { assertNotDirty, assertRevertible } from '../../plan/checks.ts';
import { currentOf, filesFor, planDown } from '../../plan/state.ts';
import { prepareAll } from '../prepare/prepare.ts';
import { runEach } from '../run/each.ts';
import { withSession, type EngineOptions } from '../session.ts';

/** Revert the last `step` migrations applied (default 1) and apply them again, under one lock. */
export async function redo(
  config: ResolvedConfig,
  options: EngineOptions & OperationArgs<'redo'> = {},
): Promise<RedoResult> {
  const started = performance.now();
  const reverted: MigrationResult[] = [];
  const applied: MigrationResult[] = [];
  const current = await withSession(config, 'redo', options, async (session) => {
    const rows = planDown(session.state, { step: options.step });
    const files = filesFor(session.state, rows);
    assertRevertible(session.state, rows);
    assertNotDirty(session.state);
    // Prepare both directions before anything runs.
    const downs = await prepareAll(files, 'down', session.emit);
    const ups = await prepareAll([...files].reverse(), 'up', session.emit);
    if (downs.length > 0) await session.ensureTables();
    await runEach(session, downs, reverted);
    await runEach(session, ups, applied);
    const gone = new Set(reverted.map((m) => m.version));
    return currentOf([
      ...session.state.applied.filter((row) => !gone.has(row.version)),
      ...applied,
    ]);
  });
  return { reverted, applied, current, durationMs: Math.round(performance.now() - started) };
}
