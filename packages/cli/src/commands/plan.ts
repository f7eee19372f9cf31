/** `offloop plan`: what `up` (or `down`) would run, in order, without running it. */
import {
  count,
  effectiveTimeouts,
  scriptOptionsSchema,
  type PlanResult,
  type PlanStep,
  type ResolvedConfig,
} from '@offloop/core';
import { defineDatabaseCommand } from '../database-command.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { optionFlags, readOptions } from '../flags/option-flags.ts';
import { formatDuration, table } from '../format.ts';

/**
 * The flags of `plan()`'s options but `direction` (`--down` sets it), `from` (`sql()`'s, which
 * `up --sql` and `down --sql` take) and `timeout` (no read-only command has `--timeout`).
 */
const PLAN_FLAGS = optionFlags(scriptOptionsSchema, ['direction', 'from', 'timeout']);

/** `offloop plan [--down] [--to <target>] [--step N]`. */
export const planCommand = defineDatabaseCommand({
  name: 'plan',
  summary: 'Show what up (or --down) would run, in order, with statement counts and options',
  usage: 'offloop plan [options]',
  description:
    'Show what offloop up would do (or offloop down, with --down), without doing it: the ' +
    'migrations in the order they would run, each with its number of statements, whether it runs ' +
    'in a transaction, and the lock_timeout and statement_timeout it runs with. Every file in ' +
    'the plan is parsed and checked as the command would, so a plan that prints is one the ' +
    'command accepts (the database may still refuse a statement). Reads only; takes no lock.',
  flags: {
    ...DATABASE_FLAGS,
    down: { type: 'boolean', description: 'Plan offloop down instead of offloop up' },
    ...PLAN_FLAGS,
  },
  examples: ['offloop plan', 'offloop plan --down --to base', 'offloop plan --to +2 --json'],

  read(values, issues) {
    const direction = values.down === true ? 'down' : 'up';
    const options = readOptions(scriptOptionsSchema, PLAN_FLAGS, values, issues, { direction });
    if (direction === 'up' && values.step !== undefined)
      issues.push({ path: '--step', message: 'only with --down (up has --to +N)' });
    return options;
  },
  call: (migrator, options, { signal }) => migrator.plan({ ...options, signal }),
  render: (result, { config }) => renderPlan(result, config),
});

/** The plan as a table: one row per migration, in the order it would run. */
function renderPlan(result: PlanResult, config: ResolvedConfig): string[] {
  const from = result.current ?? 'base';
  const command = result.direction === 'up' ? 'offloop up' : 'offloop down';
  if (result.steps.length === 0)
    return [`Nothing to do: ${command} would run no migration (database at ${from}).`];
  const rows = result.steps.map((step, index) => [
    String(index + 1),
    step.direction,
    step.file,
    step.statements === null
      ? `(${step.kind === 'module' ? 'module' : '?'})`
      : String(step.statements),
    step.transactional ? 'yes' : 'no',
    ...timeouts(step, config),
  ]);
  const nonTransactional = result.steps.filter((step) => !step.transactional).length;
  return [
    `${command} would run ${count(result.steps.length, 'migration')}, from ${from}:`,
    '',
    ...table([
      ['#', 'DIRECTION', 'FILE', 'STATEMENTS', 'TRANSACTION', 'LOCK_TIMEOUT', 'STATEMENT_TIMEOUT'],
      ...rows,
    ]),
    ...(nonTransactional === 0
      ? []
      : [
          '',
          `${count(nonTransactional, 'migration')} without a transaction: ` +
            'statements run one at a time, and a failure midway leaves the earlier ones applied.',
        ]),
  ];
}

/** A step's lock_timeout and statement_timeout as the engine sets them; `-` for none or 0. */
function timeouts(step: PlanStep, config: ResolvedConfig): string[] {
  const { lockTimeout, statementTimeout } = effectiveTimeouts(config, step);
  return [lockTimeout, statementTimeout].map((ms) =>
    ms === null || ms === 0 ? '-' : formatDuration(ms),
  );
}
