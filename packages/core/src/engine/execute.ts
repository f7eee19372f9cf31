/**
 * The engine's entry: one command in, its result out. Runs inside the worker thread (the host
 * never imports slonik); usable on any thread, which the benchmark's in-thread baseline does.
 *
 * Mutating operations (up, down, redo, stamp, repair) hold the run's advisory lock and create
 * the version and log tables if needed (`session.ts`); read-only ones (status, history, current,
 * check, plan, sql) take no lock and create nothing. Each operation is a file in `operations/`.
 */
import type { ResolvedConfig } from '../config/config.ts';
import { OffloopError, RunAbortedError } from '../errors/index.ts';
import type {
  CommandName,
  CommandResult,
  CommandResults,
  EngineCommand,
} from '../model/commands.ts';
import { check } from './operations/check.ts';
import { current } from './operations/current.ts';
import { down } from './operations/down.ts';
import { history } from './operations/history.ts';
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

function dispatch(
  config: ResolvedConfig,
  command: EngineCommand,
  options: EngineOptions,
): Promise<CommandResults[CommandName]> {
  switch (command.name) {
    case 'up':
      return up(config, {
        ...options,
        to: command.to,
        allowOutOfOrder: command.allowOutOfOrder,
        singleTransaction: command.singleTransaction,
      });
    case 'down':
      return down(config, { ...options, step: command.step, to: command.to });
    case 'redo':
      return redo(config, { ...options, step: command.step });
    case 'status':
      return status(config, options);
    case 'history':
      return history(config, options);
    case 'current':
      return current(config, options);
    case 'stamp':
      return stamp(config, { ...options, to: command.to });
    case 'repair':
      return repair(config, {
        ...options,
        dryRun: command.dryRun,
        forgetMissing: command.forgetMissing,
      });
    case 'check':
      return check(config, { ...options, allowOutOfOrder: command.allowOutOfOrder });
    case 'plan':
      return previewPlan(config, command, options);
    case 'sql':
      return offlineSql(config, command, options);
  }
}
