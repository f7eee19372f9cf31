import type { ResolvedConfig } from '../../config/config.ts';
import type { OperationArgs } from '../../config/operation-options.ts';
import type { CheckResult } from '../../model/results.ts';
import { assertNotDirty, pendingError } from '../../plan/checks.ts';
import { assertRunnable, plan } from '../../plan/plan.ts';
import { lintBeforeRun } from '../lint/lint-run.ts';
import { prepareAll } from '../prepare/prepare.ts';
import { loadParser } from '../parse/parser.ts';
import { withReadOnly, type EngineOptions } from '../session.ts';

/**
 * For CI gates and readiness probes: resolves when everything is applied and consistent, and
 * throws the typed error otherwise (edited, missing, out of order, failed, or merely pending).
 * Pending SQL migrations are linted first (a `lint:findings` event; `LINT_FAILED` when the
 * configuration's `lint.strict` is set and they fail).
 * Read-only.
 */
export async function check(
  config: ResolvedConfig,
  options: EngineOptions & OperationArgs<'check'> = {},
): Promise<CheckResult> {
  return withReadOnly(config, 'check', options, async (state, pool) => {
    const result = plan(state.files, state.applied);
    assertRunnable(result, { allowOutOfOrder: options.allowOutOfOrder });
    assertNotDirty(state, { strict: true });
    if (result.pending.length > 0) {
      // A pending file that `up` would refuse (a syntax error, a statement that cannot run in a
      // transaction) is reported as such, not as merely pending.
      await loadParser();
      await prepareAll(result.pending, 'up');
      await lintBeforeRun(config, state.files, result.pending, pool, {
        strict: config.lint.strict,
        emit: options.onProgress ?? (() => undefined),
      });
      throw pendingError(result.pending);
    }
    return { ok: true, current: result.current, applied: result.applied.length };
  });
}
