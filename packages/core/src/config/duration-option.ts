/** The zod schema of a duration option (`timeout: "30s"`), over `parseDuration`. */
import { z } from 'zod';
import { parseDuration } from './duration.ts';

/** A duration option: milliseconds, or a number with `ms`, `s`, `m` or `h`. */
export const duration = z.preprocess(
  (value: number | string) => parseDuration(value),
  z
    .number({ error: 'must be a duration: milliseconds, or a number with ms, s, m or h' })
    .int()
    .nonnegative(),
);
