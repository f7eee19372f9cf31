/**
 * The operations the engine performs, as data: the host builds a command, the worker runs it
 * with {@link execute} from `@offloop/core/engine`. A command is an operation's name and its
 * options as its schema resolves them (`config/operation-options.ts`), so the two cannot drift.
 * Adding an operation means adding its schema there, its result type here, and its function in
 * the engine; the thread plumbing does not change.
 */
import type { CommandName, OperationArgs } from '../config/operation-options.ts';
import type {
  CheckResult,
  CurrentResult,
  DownResult,
  HistoryResult,
  PlanResult,
  RedoResult,
  RepairResult,
  SqlResult,
  StampResult,
  StatusResult,
  UpResult,
} from './results.ts';
import type { LintResult } from './lint.ts';

export type { CommandName } from '../config/operation-options.ts';

/** One engine operation and its arguments. */
export type EngineCommand = {
  [N in CommandName]: { readonly name: N } & OperationArgs<N>;
}[CommandName];

/** The engine command named `N` (for a union of names, any of them). */
export type CommandOf<N extends CommandName> = Extract<EngineCommand, { readonly name: N }>;

/** The result type of each command. */
export type CommandResults = {
  readonly up: UpResult;
  readonly down: DownResult;
  readonly redo: RedoResult;
  readonly status: StatusResult;
  readonly history: HistoryResult;
  readonly current: CurrentResult;
  readonly stamp: StampResult;
  readonly repair: RepairResult;
  readonly check: CheckResult;
  readonly lint: LintResult;
  readonly plan: PlanResult;
  readonly sql: SqlResult;
};

/** The result of command `C`. */
export type CommandResult<C extends EngineCommand> = CommandResults[C['name']];
