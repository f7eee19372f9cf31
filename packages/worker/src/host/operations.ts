/**
 * The host API's operations: a call's options, validated by its operation's schema (core's
 * `OPERATION_SCHEMAS`), become its engine command and its timeout. No operation is mapped by
 * hand: the command is the operation's name and its validated options, less `timeout`.
 */
import { OPERATION_SCHEMAS, type CommandName, type CommandOf } from '@offloop/core';
import type { z } from 'zod';

/** A call's options, validated: its engine command and its timeout. */
type ParsedCall<N extends CommandName> =
  | {
      readonly success: true;
      readonly command: CommandOf<N>;
      readonly timeoutMs: number | undefined;
    }
  | { readonly success: false; readonly error: z.ZodError };

/** Validate the options of a call of `name` (everything but `onProgress` and `signal`). */
export function parseCall<N extends CommandName>(name: N, options: object): ParsedCall<N> {
  const parsed = OPERATION_SCHEMAS[name].safeParse(options);
  if (!parsed.success) return { success: false, error: parsed.error };
  const { timeout, ...args } = parsed.data;
  // The schema of `name` gave `args`: the arguments of command `name`, by definition.
  const command = { name, ...args } as CommandOf<N>;
  return { success: true, command, timeoutMs: timeout };
}
