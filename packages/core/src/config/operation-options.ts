/**
 * The options of each operation's call (`up()`, `down()`, ...), as zod schemas: what the host API
 * and the CLI accept beyond the configuration.
 */
import { z } from 'zod';
import { duration } from './duration.ts';

const targetSpec = z
  .string()
  .regex(/^(base|[+-]\d+|\d{1,14})$/, 'must be a version, a version prefix, base, +N or -N');

/** Options every call takes (`status()` too). */
export const callOptionsSchema = z.strictObject({
  /** Cancel the whole call after this long (`RUN_TIMEOUT`); 0 or absent means none. */
  timeout: duration.optional(),
});

/** Options of one `up()` call. */
export const upOptionsSchema = callOptionsSchema.extend({
  /** Apply pending migrations up to and including this version (or prefix, or `+N`). @default all pending */
  to: targetSpec.optional(),
  /** Apply pending migrations older than the newest applied one instead of refusing. @default false */
  allowOutOfOrder: z.boolean().optional(),
  /** Run the whole run in one transaction. @default false */
  singleTransaction: z.boolean().optional(),
});

/** Options of one `down()` call: one step by default. */
export const downOptionsSchema = callOptionsSchema
  .extend({
    /** Revert this many migrations. @default 1 */
    step: z.number().int().positive().optional(),
    /** Revert every migration after this version (it stays applied); `base` reverts all. */
    to: targetSpec.optional(),
  })
  .refine(
    (value) => value.step === undefined || value.to === undefined,
    'give step or to, not both',
  );

/** Options of one `redo()` call. */
export const redoOptionsSchema = callOptionsSchema.extend({
  /** Revert and re-apply this many migrations. @default 1 */
  step: z.number().int().positive().optional(),
});

/** Options of one `stamp()` call. */
export const stampOptionsSchema = callOptionsSchema.extend({
  /** The version to record the database as being at (or prefix), or `base` for none. */
  to: targetSpec,
});

/** Options of one `repair()` call. */
export const repairOptionsSchema = callOptionsSchema.extend({
  /** Report what would change, change nothing. @default false */
  dryRun: z.boolean().optional(),
  /** Also forget applied migrations whose files are gone. @default false */
  forgetMissing: z.boolean().optional(),
});

/** Options of one `check()` call. */
export const checkOptionsSchema = callOptionsSchema.extend({
  /** Do not count out-of-order pending migrations as a problem. @default false */
  allowOutOfOrder: z.boolean().optional(),
});

/** Options of one `plan()` or `sql()` (offline script) call. */
export const scriptOptionsSchema = callOptionsSchema.extend({
  direction: z.enum(['up', 'down']).default('up'),
  /** Offline: take the database to be at this version (`base` for empty) instead of reading it. */
  from: targetSpec.optional(),
  /** Up: stop at this version. Down: revert everything after it. */
  to: targetSpec.optional(),
  /** Down: revert this many migrations. @default 1 */
  step: z.number().int().positive().optional(),
  allowOutOfOrder: z.boolean().optional(),
});
