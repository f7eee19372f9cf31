/**
 * The operations the engine performs, as data: the host builds a command, the worker runs it
 * with {@link execute} from `@offloop/core/engine`. Adding an operation means adding a member
 * here, its result type, and a case in the engine; the thread plumbing does not change.
 */
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

/** One engine operation and its arguments. */
export type EngineCommand =
  | {
      readonly name: 'up';
      readonly to?: string | undefined;
      readonly allowOutOfOrder?: boolean | undefined;
      readonly singleTransaction?: boolean | undefined;
    }
  | { readonly name: 'down'; readonly step?: number | undefined; readonly to?: string | undefined }
  | { readonly name: 'redo'; readonly step?: number | undefined }
  | { readonly name: 'status' }
  | { readonly name: 'history' }
  | { readonly name: 'current' }
  | { readonly name: 'stamp'; readonly to: string }
  | {
      readonly name: 'repair';
      readonly dryRun?: boolean | undefined;
      readonly forgetMissing?: boolean | undefined;
    }
  | { readonly name: 'check'; readonly allowOutOfOrder?: boolean | undefined }
  | {
      readonly name: 'plan';
      readonly direction: 'up' | 'down';
      readonly to?: string | undefined;
      readonly step?: number | undefined;
      readonly allowOutOfOrder?: boolean | undefined;
    }
  | {
      readonly name: 'sql';
      readonly direction: 'up' | 'down';
      readonly from?: string | undefined;
      readonly to?: string | undefined;
      readonly step?: number | undefined;
      readonly allowOutOfOrder?: boolean | undefined;
    };

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
  readonly plan: PlanResult;
  readonly sql: SqlResult;
};

/** The name of an {@link EngineCommand}. */
export type CommandName = EngineCommand['name'];

/** The result of command `C`. */
export type CommandResult<C extends EngineCommand> = CommandResults[C['name']];
