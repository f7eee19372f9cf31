import type { ResolvedConfig } from '../../config/config.ts';
import type { OperationArgs } from '../../config/operation-options.ts';
import { discoverMigrations } from '../../files/discover.ts';
import { lintFails, type LintResult } from '../../model/lint.ts';
import { plan } from '../../plan/plan.ts';
import { lintMigrations, type Linted } from '../lint/lint-run.ts';
import { announce, withReadOnly, type EngineOptions } from '../session.ts';

/**
 * The lint findings (docs/lint.md) of the migrations: connected, of the pending ones (`all`:
 * every one), graded by the sizes of the tables they touch, assuming the server's version;
 * `offline`, of every one, assuming the configured `postgresVersion`, with no database at all.
 * Read-only. Never throws for findings: the result says whether they fail (`failed`).
 */
export async function lint(
  config: ResolvedConfig,
  options: EngineOptions & OperationArgs<'lint'> = {},
): Promise<LintResult> {
  const strict = options.strict === true || config.lint.strict;
  const result = (linted: Linted): LintResult => ({
    ...linted,
    failed: lintFails(linted.findings, strict),
  });
  if (options.offline === true) {
    await announce(config, 'lint', options.onProgress);
    return result(await lintMigrations(config, await discoverMigrations(config.dir), null, null));
  }
  return withReadOnly(config, 'lint', options, async (state, pool) => {
    const selected =
      options.all === true
        ? null
        : new Set(plan(state.files, state.applied).pending.map((file) => file.version));
    return result(await lintMigrations(config, state.files, selected, pool));
  });
}
