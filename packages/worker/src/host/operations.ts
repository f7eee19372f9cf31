/**
 * The host API's operations: for each, the zod schema that validates a call's options and the
 * engine command built from them. This is where the host API's option names meet the engine's.
 */
import {
  callOptionsSchema,
  checkOptionsSchema,
  downOptionsSchema,
  redoOptionsSchema,
  repairOptionsSchema,
  scriptOptionsSchema,
  stampOptionsSchema,
  upOptionsSchema,
  type CommandName,
} from '@offloop/core';
import type { z } from 'zod';
import type { CommandOf } from '../protocol.ts';

/** A call's options, validated: its engine command and its timeout. */
type ParsedCall<N extends CommandName> =
  | {
      readonly success: true;
      readonly command: CommandOf<N>;
      readonly timeoutMs: number | undefined;
    }
  | { readonly success: false; readonly error: z.ZodError };

/** Validate the options of a call (everything but `onProgress` and `signal`). */
type Operation<N extends CommandName> = (options: object) => ParsedCall<N>;

function operation<S extends z.ZodType<{ timeout?: number | undefined }>, N extends CommandName>(
  schema: S,
  command: (data: z.output<S>) => CommandOf<N>,
): Operation<N> {
  return (options) => {
    const parsed = schema.safeParse(options);
    if (!parsed.success) return { success: false, error: parsed.error };
    return { success: true, command: command(parsed.data), timeoutMs: parsed.data.timeout };
  };
}

/** Every operation of the host API, by the name of its engine command. */
export const OPERATIONS: { readonly [N in CommandName]: Operation<N> } = {
  up: operation(upOptionsSchema, (data) => ({
    name: 'up',
    to: data.to,
    allowOutOfOrder: data.allowOutOfOrder,
    singleTransaction: data.singleTransaction,
  })),
  status: operation(callOptionsSchema, () => ({ name: 'status' })),
  down: operation(downOptionsSchema, (data) => ({ name: 'down', step: data.step, to: data.to })),
  redo: operation(redoOptionsSchema, (data) => ({ name: 'redo', step: data.step })),
  history: operation(callOptionsSchema, () => ({ name: 'history' })),
  current: operation(callOptionsSchema, () => ({ name: 'current' })),
  stamp: operation(stampOptionsSchema, (data) => ({ name: 'stamp', to: data.to })),
  repair: operation(repairOptionsSchema, (data) => ({
    name: 'repair',
    dryRun: data.dryRun,
    forgetMissing: data.forgetMissing,
  })),
  check: operation(checkOptionsSchema, (data) => ({
    name: 'check',
    allowOutOfOrder: data.allowOutOfOrder,
  })),
  plan: operation(scriptOptionsSchema, (data) => ({
    name: 'plan',
    direction: data.direction,
    to: data.to,
    step: data.step,
    allowOutOfOrder: data.allowOutOfOrder,
  })),
  sql: operation(scriptOptionsSchema, (data) => ({
    name: 'sql',
    direction: data.direction,
    from: data.from,
    to: data.to,
    step: data.step,
    allowOutOfOrder: data.allowOutOfOrder,
  })),
};
