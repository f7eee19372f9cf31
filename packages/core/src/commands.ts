/**
 * The operations the engine performs, as data: the host builds a command, the worker runs it
 * with {@link execute} from `@offloop/core/engine`. Adding an operation means adding a member
 * here, its result type, and a case in the engine; the thread plumbing does not change.
 */
import type { StatusResult, UpResult } from './results.ts';

/** One engine operation and its arguments. */
export type EngineCommand =
  | { readonly name: 'up'; readonly to?: string | undefined }
  | { readonly name: 'status' };

/** The result type of each command. */
export type CommandResults = {
  readonly up: UpResult;
  readonly status: StatusResult;
};

/** The name of an {@link EngineCommand}. */
export type CommandName = EngineCommand['name'];

/** The result of command `C`. */
export type CommandResult<C extends EngineCommand> = CommandResults[C['name']];
