/**
 * Durations in options, flags and migration markers: `1500`, `"1500ms"`, `"30s"`, `"5m"`, `"1h"`,
 * as milliseconds. No zod here: the engine parses markers with it, in a thread that loads no
 * config schema (the option's schema is `duration-option.ts`).
 */

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Parse `1500`, `"1500"`, `"1500ms"`, `"30s"`, `"5m"` or `"1h"` into milliseconds. */
export function parseDuration(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!match) return value;
  const unit = (match[2] ?? 'ms') as keyof typeof DURATION_UNITS;
  return Math.round(Number(match[1]) * DURATION_UNITS[unit]);
}
