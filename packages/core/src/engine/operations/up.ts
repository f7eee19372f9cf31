import type { ResolvedConfig } from '../../config/config.ts';
import type { OperationArgs } from '../../config/operation-options.ts';
import type { MigrationResult } from '../../errors/index.ts';
import type { UpResult } from '../../model/results.ts';
import { assertNotDirty, assertSingleTransaction } from '../../plan/checks.ts';
import { assertRunnable } from '../../plan/plan.ts';
import { currentOf, planUp } from '../../plan/state.ts';
import { lintBeforeRun } from '../lint/lint-run.ts';
import { prepareAll } from '../prepare/prepare.ts';
import { runEach } from '../run/each.ts';
import { runSingleTransaction } from '../run/single-transaction.ts';
import { withSession, type EngineOptions, type Session } from '../session.ts';

/**
 * Apply pending migrations, each in its own transaction with its version row (or all in one
 * with `singleTransaction`), under the run's advisory lock. Every pending file is parsed (SQL)
 * or imported (modules) and checked before the first one runs, and SQL is linted: findings are
 * sent as a `lint:findings` event, and refuse the run when it is strict.
 */
export async function up(
  config: ResolvedConfig,
  options: EngineOptions & OperationArgs<'up'> = {},
): Promise<UpResult> {
  const started = performance.now();
  const applied: MigrationResult[] = [];
  const run = async (session: Session): Promise<string | null> => {
    const result = planUp(session.state, options.to);
    assertRunnable(result, { allowOutOfOrder: options.allowOutOfOrder });
    assertNotDirty(session.state);
    await session.emit({
      type: 'plan:ready',
      direction: 'up',
      pending: result.pending.map(({ version, name }) => ({ version, name })),
      appliedCount: result.applied.length,
    });
    const prepared = await prepareAll(result.pending, 'up', session.emit);
    await lintBeforeRun(config, session.state.files, result.pending, session.work, {
      strict: options.strict === true || config.lint.strict,
      emit: session.emit,
    });
    if (options.singleTransaction === true) assertSingleTransaction(prepared);
    // Nothing to do creates nothing, as a read-only command would.
    if (prepared.length > 0) await session.ensureTables();
    if (options.singleTransaction === true) await runSingleTransaction(session, prepared, applied);
    else await runEach(session, prepared, applied);
    return currentOf([...session.state.applied, ...applied]);
  };
  // Most `up` calls find nothing to do: a ledger that holds exactly the files is not read row by
  // row (the plan needs only versions, names and checksums).
  const current = await withSession(config, 'up', options, run, { filesLikelyApplied: true });
  const durationMs = Math.round(performance.now() - started);
  await options.onProgress?.({ type: 'run:finished', applied: applied.length, durationMs });
  return { applied, current, durationMs };
}
