/** Durations in options and flags: `1500`, `"1500ms"`, `"30s"`, `"5m"`, `"1h"`, as milliseconds. */
import { z } from 'zod';

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Parse `1500`, `"1500"`, `"1500ms"`, `"30s"`, `"5m"` or `"1h"` into milliseconds. */
export function parseDuration(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!match) return value;
  const unit = (match[2] ?? 'ms') as keyof typeof DURATION_UNITS;
  return Math.round(Number(match[1]) * DURATION_UNITS[unit]);
}

/** A duration option: milliseconds, or a number with `ms`, `s`, `m` or `h`. */
export const duration = z.preprocess(
  (value: number | string) => parseDuration(value),
  z
    .number({ error: 'must be a duration: milliseconds, or a number with ms, s, m or h' })
    .int()
    .nonnegative(),
);
