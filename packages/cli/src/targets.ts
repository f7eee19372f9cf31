/**
 * Flags that name migrations or count them: `--to`, `--from`, `--step`, and the `stamp` target.
 * Checked here, with the other command-line problems, so that a typo is a usage error reported
 * with everything else, before any thread or database starts.
 */
import { callOptionsSchema, type ConfigIssue } from '@offloop/core';
import type { FlagValues } from './args.ts';

/** A version (`20260101120000`), an unambiguous prefix of one (`202601`), `base`, `+N` or `-N`. */
const TARGET_PATTERN = /^(base|[+-]\d+|\d{1,14})$/;

/** What `--to`, `--from` and `stamp` accept, for the problem message. */
export const TARGET_FORMS = 'a version, a version prefix, base, +N or -N';

/** The value of a target flag, or undefined; a malformed one adds an issue. */
export function readTarget(
  values: FlagValues,
  flag: string,
  issues: ConfigIssue[],
  forms = TARGET_FORMS,
): string | undefined {
  const value = values[flag];
  if (typeof value !== 'string') return undefined;
  if (!TARGET_PATTERN.test(value))
    issues.push({ path: `--${flag}`, message: `must be ${forms}; got "${value}"` });
  return value;
}

/**
 * The value of `--to` for a command that goes `direction`: up takes a version, a prefix or +N;
 * down takes a version, a prefix, base or -N. A target that points the other way adds an issue.
 */
export function readDirectedTarget(
  values: FlagValues,
  direction: 'up' | 'down',
  issues: ConfigIssue[],
): string | undefined {
  const forms =
    direction === 'up'
      ? 'a version, a version prefix, or +N'
      : 'a version, a version prefix, base or -N';
  const to = readTarget(values, 'to', issues, forms);
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

/** Whether `value` is a well-formed target. */
export function isTarget(value: string): boolean {
  return TARGET_PATTERN.test(value);
}

/** The value of `--step`, a positive integer, or undefined; a bad one adds an issue. */
export function readStep(values: FlagValues, issues: ConfigIssue[]): number | undefined {
  const value = values.step;
  if (typeof value !== 'string') return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    issues.push({ path: '--step', message: `must be a positive whole number; got "${value}"` });
    return undefined;
  }
  return Number(value);
}

/** The value of `--timeout` in milliseconds (0: none), or undefined; a bad one adds an issue. */
export function readTimeout(values: FlagValues, issues: ConfigIssue[]): number | undefined {
  const value = values.timeout;
  if (typeof value !== 'string') return undefined;
  // The same schema as the call's own `timeout` option, so the two accept the same durations.
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
export function exclusive(values: FlagValues, a: string, b: string, issues: ConfigIssue[]): void {
  if (values[a] !== undefined && values[b] !== undefined)
    issues.push({ path: `--${b}`, message: `cannot be combined with --${a}` });
}
