/**
 * The engine's entry: one command in, its result out. Runs inside the worker thread (the host
 * never imports slonik); usable on any thread, which the benchmark's in-thread baseline does.
 *
 * Mutating operations (up, down, redo, stamp, repair) hold the run's advisory lock and create
 * the version and log tables if needed (`session.ts`); read-only ones (status, history, current,
 * check, lint, plan, sql) take no lock and create nothing. Each operation is a file in `operations/`.
 */
import type { ResolvedConfig } from '../config/config.ts';
import { OffloopError, RunAbortedError } from '../errors/index.ts';
import type {
  CommandName,
  CommandOf,
  CommandResult,
  CommandResults,
  EngineCommand,
} from '../model/commands.ts';
import { check } from './operations/check.ts';
import { current } from './operations/current.ts';
import { down } from './operations/down.ts';
import { history } from './operations/history.ts';
import { lint } from './operations/lint.ts';
import { offlineSql, previewPlan } from './operations/preview.ts';
import { redo } from './operations/redo.ts';
import { repair } from './operations/repair.ts';
import { stamp } from './operations/stamp.ts';
import { status } from './operations/status.ts';
import { up } from './operations/up.ts';
import type { EngineOptions } from './session.ts';

/** Run one engine command. The worker calls this for every task. */
export async function execute<C extends EngineCommand>(
  config: ResolvedConfig,
  command: C,
  options: EngineOptions = {},
): Promise<CommandResult<C>> {
  try {
    return (await dispatch(config, command, options)) as CommandResult<C>;
  } catch (error) {
    // Whatever a cancelled run trips over on its way out (an aborted lock wait, a cancelled
    // statement outside a migration), the caller asked for it: report the abort.
    if (options.signal?.aborted === true && !(error instanceof OffloopError)) {
      throw new RunAbortedError('The run was cancelled.', { applied: [] }, { cause: error });
    }
    throw error;
  }
}

/** Each operation's function, by the name of its command. */
const OPERATIONS: {
  readonly [N in CommandName]: (
    config: ResolvedConfig,
    command: CommandOf<N>,
    options: EngineOptions,
  ) => Promise<CommandResults[N]>;
} = {
  up: (config, command, options) => up(config, { ...command, ...options }),
  down: (config, command, options) => down(config, { ...command, ...options }),
  redo: (config, command, options) => redo(config, { ...command, ...options }),
  status: (config, _command, options) => status(config, options),
  history: (config, _command, options) => history(config, options),
  current: (config, _command, options) => current(config, options),
  stamp: (config, command, options) => stamp(config, { ...command, ...options }),
  repair: (config, command, options) => repair(config, { ...command, ...options }),
  check: (config, command, options) => check(config, { ...command, ...options }),
  lint: (config, command, options) => lint(config, { ...command, ...options }),
  plan: previewPlan,
  sql: offlineSql,
};

function dispatch(
  config: ResolvedConfig,
  command: EngineCommand,
  options: EngineOptions,
): Promise<CommandResults[CommandName]> {
  // TypeScript cannot correlate `command.name` with the table's entry for it; they match by
  // construction of `OPERATIONS`.
  const operation = OPERATIONS[command.name] as (
    config: ResolvedConfig,
    command: EngineCommand,
    options: EngineOptions,
  ) => Promise<CommandResults[CommandName]>;
  return operation(config, command, options);
}
