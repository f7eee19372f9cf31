/**
 * The flags of `up --sql` and `down --sql`, which print the script of an `sql()` call instead of
 * making the command's own: `--sql` is the CLI's, `--from` is the `sql()` operation's option.
 */
import { scriptOptionsSchema, type ConfigIssue } from '@offloop/core';
import { optionFlags } from './option-flags.ts';
import type { FlagSpecs } from './spec.ts';

/** `--sql` and `--from`, taken by `up` and `down`. */
export const SCRIPT_FLAGS = {
  sql: {
    type: 'boolean',
    description:
      'Print the SQL script this command would run, version-table statements and transaction boundaries included, instead of running it ' +
      '(for review, or psql -v ON_ERROR_STOP=1 -f). Writes nothing, takes no lock; without --from it reads the version table',
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
