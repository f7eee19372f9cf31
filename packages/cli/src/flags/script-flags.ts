/**
 * The flags of `up --sql` and `down --sql`, which print the script of an `sql()` call instead of
 * making the command's own: `--sql` is the CLI's, `--from` is the `sql()` operation's option.
 */
import { scriptOptionsSchema, type ConfigIssue, type OperationInput } from '@offloop/core';
import { kebab, optionFlags } from './option-flags.ts';
import type { FlagSpecs } from './spec.ts';

/** The options of an `sql()` call: what `up --sql` and `down --sql` print the script of. */
type ScriptOptions = OperationInput<'sql'>;

/** `--sql` and `--from`, taken by `up` and `down`. */
export const SCRIPT_FLAGS = {
  sql: {
    type: 'boolean',
    description:
      'Print the SQL script this command would run, version-table statements and transaction ' +
      'boundaries included, instead of running it (for review, or psql -v ON_ERROR_STOP=1 -f). ' +
      'Writes nothing, takes no lock; without --from it reads the version table',
  },
  // The one option of `sql()` that `up --sql` and `down --sql` add to their command's.
  ...optionFlags(scriptOptionsSchema, ['direction', 'to', 'step', 'allowOutOfOrder', 'timeout']),
} as const satisfies FlagSpecs;

/** The value of `--from` (with `--sql`: the version to take the database to be at), or undefined. */
export function readFrom(
  values: { readonly from?: string; readonly sql?: boolean },
  issues: ConfigIssue[],
): string | undefined {
  const from = values.from;
  if (from === undefined) return undefined;
  if (values.sql !== true) issues.push({ path: '--from', message: 'only with --sql' });
  const result = scriptOptionsSchema.shape.from.safeParse(from);
  if (!result.success)
    issues.push(
      ...result.error.issues.map((issue) => ({ path: '--from', message: issue.message })),
    );
  return from;
}

/**
 * What `--sql` does with each option of a command's operation (options `A`, as read): `true`
 * carries it to the `sql()` request, under the same name; a string refuses it with `--sql`, and
 * says why. Every option is in it (`satisfies` says so), and only an option `sql()` takes in the
 * same type can be carried, so an option added to `up()` cannot be silently left out of the
 * script of `up --sql`.
 */
export type ScriptCarry<A extends object> = {
  readonly [K in keyof A]-?: K extends keyof ScriptOptions
    ? A[K] extends ScriptOptions[K]
      ? true | string
      : string
    : string;
};

/** The problems with `args` and `--sql`: an option `carry` refuses, set. */
export function scriptRefusals<A extends object>(args: A, carry: ScriptCarry<A>): ConfigIssue[] {
  return Object.entries(carry as Record<string, true | string>).flatMap(([key, how]) => {
    const value: unknown = (args as Record<string, unknown>)[key];
    if (how === true || value === undefined || value === false) return [];
    return [{ path: `--${kebab(key)}`, message: how }];
  });
}

/** The `sql()` request going `direction` for `args`: the options `carry` carries, and `from`. */
export function scriptRequest<A extends object>(
  direction: ScriptOptions['direction'],
  args: A,
  carry: ScriptCarry<A>,
  from: string | undefined,
): ScriptOptions {
  const carried = Object.entries(carry as Record<string, true | string>)
    .filter(([, how]) => how === true)
    .map(([key]) => [key, (args as Record<string, unknown>)[key]] as const);
  return { ...(Object.fromEntries(carried) as ScriptOptions), direction, from };
}
