/**
 * Flags that set an option of one call: `--to`, `--from`, `--step`, `--timeout`, and the `stamp`
 * version. Each value is checked by the schema of the operation it is for (core's
 * `upOptionsSchema` and its siblings), with a message in command-line terms, so that a typo is a
 * usage problem reported with everything else, before any thread or database starts.
 */
import { callOptionsSchema, scriptOptionsSchema, type ConfigIssue } from '@offloop/core';
import type { FlagSpecs } from './spec.ts';

/** The part of a zod schema the readers use: a schema of one option, from core. */
type OptionSchema<T> = {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: readonly { message: string }[] } };
};

/** `--timeout <duration>`, taken by the commands that change the database: a limit on the whole run. */
export const RUN_FLAGS = {
  timeout: {
    type: 'string',
    placeholder: 'duration',
    description:
      'Cancel the whole run (lock wait included) after this long, with RUN_TIMEOUT; what finished before stays',
    default: '0, none',
  },
} as const satisfies FlagSpecs;

/** `--sql` and `--from`, taken by `up` and `down`. */
export const SCRIPT_FLAGS = {
  sql: {
    type: 'boolean',
    description:
      'Print the SQL script this command would run, version-table statements and transaction boundaries included, instead of running it ' +
      '(for review, or psql -v ON_ERROR_STOP=1 -f). Writes nothing, takes no lock; without --from it reads the version table',
  },
  from: {
    type: 'string',
    placeholder: 'version',
    description:
      'With --sql: take the database to be at this version (base: empty) instead of reading it; then no database is needed at all',
  },
} as const satisfies FlagSpecs;

/** What `--to`, `--from` and `stamp` accept, for the problem message. */
const TARGET_FORMS = 'a version, a version prefix, base, +N or -N';

/**
 * A target flag's value (a version, an unambiguous prefix of one, `base`, `+N` or `-N`), checked
 * by `schema` (the operation's own, as `upOptionsSchema.shape.to`); a malformed one adds an
 * issue naming `forms`.
 */
export function readTarget(
  value: string | undefined,
  flag: string,
  schema: OptionSchema<unknown>,
  issues: ConfigIssue[],
  forms = TARGET_FORMS,
): string | undefined {
  if (value === undefined) return undefined;
  if (!schema.safeParse(value).success)
    issues.push({ path: `--${flag}`, message: `must be ${forms}; got "${value}"` });
  return value;
}

/**
 * The value of `--to` for a command that goes `direction`, checked by that operation's schema:
 * up takes a version, a prefix or +N; down takes a version, a prefix, base or -N. A target that
 * points the other way adds an issue that names the command going that way.
 */
export function readDirectedTarget(
  value: string | undefined,
  direction: 'up' | 'down',
  schema: OptionSchema<unknown>,
  issues: ConfigIssue[],
): string | undefined {
  const forms =
    direction === 'up'
      ? 'a version, a version prefix, or +N'
      : 'a version, a version prefix, base or -N';
  const to = readTarget(value, 'to', schema, issues, forms);
  if (to === undefined) return undefined;
  if (direction === 'up' && (to === 'base' || to.startsWith('-'))) {
    issues.push({
      path: '--to',
      message: `must be ${forms} going up; to go back, use offloop down --to ${to}`,
    });
  } else if (direction === 'down' && to.startsWith('+')) {
    issues.push({
      path: '--to',
      message: `must be ${forms} going down; to go forward, use offloop up --to ${to}`,
    });
  }
  return to;
}

/** The value of `--from` (with `--sql`: the version to take the database to be at), or undefined. */
export function readFrom(
  values: { readonly from?: string; readonly sql?: boolean },
  issues: ConfigIssue[],
): string | undefined {
  const from = readTarget(
    values.from,
    'from',
    scriptOptionsSchema.shape.from,
    issues,
    'a version, a version prefix, or base',
  );
  if (from !== undefined && values.sql !== true)
    issues.push({ path: '--from', message: 'only with --sql' });
  if (from !== undefined && /^[+-]/.test(from))
    issues.push({ path: '--from', message: 'must be a version, a version prefix, or base' });
  return from;
}

/**
 * The value of `--step`, a positive whole number checked by `schema` (the operation's own, as
 * `downOptionsSchema.shape.step`), or undefined; a bad one adds an issue.
 */
export function readStep(
  value: string | undefined,
  schema: OptionSchema<unknown>,
  issues: ConfigIssue[],
): number | undefined {
  if (value === undefined) return undefined;
  // The text must be digits (no `1e3`, no ` 2`); the number is the schema's to judge.
  if (!/^\d+$/.test(value) || !schema.safeParse(Number(value)).success) {
    issues.push({ path: '--step', message: `must be a positive whole number; got "${value}"` });
    return undefined;
  }
  return Number(value);
}

/** The value of `--timeout` in milliseconds (0: none), or undefined; a bad one adds an issue. */
export function readTimeout(value: string | undefined, issues: ConfigIssue[]): number | undefined {
  if (value === undefined) return undefined;
  // The call's own `timeout` option's schema, so the two accept the same durations.
  const result = callOptionsSchema.shape.timeout.safeParse(value);
  if (!result.success) {
    issues.push(
      ...result.error.issues.map((issue) => ({ path: '--timeout', message: issue.message })),
    );
    return undefined;
  }
  return result.data;
}

/** An issue when two flags that exclude each other are both given. */
export function exclusive<V extends object>(
  values: V,
  a: keyof V & string,
  b: keyof V & string,
  issues: ConfigIssue[],
): void {
  if (values[a] !== undefined && values[b] !== undefined)
    issues.push({ path: `--${b}`, message: `cannot be combined with --${a}` });
}
