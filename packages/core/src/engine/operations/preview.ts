/**
 * The read-only previews of `up` and `down`: `plan` (the steps, with statement counts and
 * options) and `sql` (the exact script, for a DBA to review). Never write, never lock.
 */
import type { ResolvedConfig } from '../../config/config.ts';
import type { EngineCommand } from '../../model/commands.ts';
import type { Prepared } from '../../model/prepared.ts';
import type { PlanResult, SqlResult } from '../../model/results.ts';
import { assertNoModules, assertNotDirty, assertRevertible } from '../../plan/checks.ts';
import { assertRunnable } from '../../plan/plan.ts';
import {
  assumedAt,
  currentOf,
  filesFor,
  planDown,
  planUp,
  type PlanState,
} from '../../plan/state.ts';
import { scriptRange, toStep } from '../../plan/steps.ts';
import { discoverMigrations } from '../../files/discover.ts';
import { renderScript } from '../../sql/offline.ts';
import { prepareAll } from '../prepare/prepare.ts';
import { loadParser } from '../parse/parser.ts';
import { announce, withReadOnly, type EngineOptions } from '../session.ts';

type PlanCommand = Extract<EngineCommand, { name: 'plan' }>;
type SqlCommand = Extract<EngineCommand, { name: 'sql' }>;

/** What the command would run, prepared; what the command itself would refuse, this refuses too. */
async function stepsFor(state: PlanState, command: PlanCommand | SqlCommand): Promise<Prepared[]> {
  await loadParser();
  if (command.direction === 'up') {
    const result = planUp(state, command.to);
    assertRunnable(result, { allowOutOfOrder: command.allowOutOfOrder });
    assertNotDirty(state);
    return prepareAll(result.pending, 'up');
  }
  const rows = planDown(state, { step: command.step, to: command.to });
  const files = filesFor(state, rows);
  assertRevertible(state, rows);
  assertNotDirty(state);
  return prepareAll(files, 'down');
}

/** What `up` or `down` would do, in order, with statement counts and options. Read-only. */
export async function previewPlan(
  config: ResolvedConfig,
  command: PlanCommand,
  options: EngineOptions,
): Promise<PlanResult> {
  return withReadOnly(config, 'plan', options, async (state) => ({
    direction: command.direction,
    current: currentOf(state.applied),
    steps: (await stepsFor(state, command)).map(toStep),
  }));
}

/**
 * The exact SQL script `up` or `down` would run. With `from` it needs no database at all (the
 * database is taken to be at that version); otherwise it reads the version table and nothing
 * else.
 */
export async function offlineSql(
  config: ResolvedConfig,
  command: SqlCommand,
  options: EngineOptions,
): Promise<SqlResult> {
  const render = async (state: PlanState): Promise<SqlResult> => {
    const items = await stepsFor(state, command);
    assertNoModules(items);
    const { from, to } = scriptRange(state, items, command.direction);
    return {
      direction: command.direction,
      from,
      to,
      script: renderScript(config, items, { direction: command.direction, from, to }),
      steps: items.map(toStep),
    };
  };
  if (command.from === undefined)
    return withReadOnly(config, 'sql', options, (state) => render(state));
  await announce(config, 'sql', options.onProgress);
  return render(assumedAt(await discoverMigrations(config.dir), command.from));
}
