/**
 * The options of each operation (`up()`, `down()`, ...), one zod schema per operation, declared
 * once. Everything else is derived from these: the engine's command (`model/commands.ts`), the
 * host API's option types (`@offloop/worker`), the CLI's flags, their checks and `--help`
 * (through each field's {@link option} metadata), and `docs/cli.md`.
 *
 * Adding an option to an operation is a field here (its JSDoc for the host API, its metadata for
 * the CLI), and its use in the engine's operation.
 */
import { z } from 'zod';
import { duration } from './duration-option.ts';
import { DURATION, option } from './option-meta.ts';

/** What every target option accepts in form: a version, a prefix of one, `base`, `+N` or `-N`. */
const TARGET = /^(base|[+-]\d+|\d{1,14})$/;

/** The forms a target takes, by where it points; the CLI's problem messages name them. */
const TARGET_FORMS = {
  any: 'a version, a version prefix, base, +N or -N',
  up: 'a version, a version prefix, or +N',
  down: 'a version, a version prefix, base or -N',
  from: 'a version, a version prefix, or base',
} as const;

/**
 * The problem with `value` as a target going `direction`, or undefined: up takes a version, a
 * prefix or `+N`; down a version, a prefix, `base` or `-N`; a target pointing the other way
 * names the operation going that way.
 */
function targetProblem(value: string, direction: keyof typeof TARGET_FORMS): string | undefined {
  const forms = TARGET_FORMS[direction];
  if (!TARGET.test(value)) return `must be ${forms}; got "${value}"`;
  if (direction === 'up' && (value === 'base' || value.startsWith('-')))
    return `must be ${forms} going up; to go back, use offloop down --to ${value}`;
  if (direction === 'down' && value.startsWith('+'))
    return `must be ${forms} going down; to go forward, use offloop up --to ${value}`;
  if (direction === 'from' && /^[+-]/.test(value)) return `must be ${forms}`;
  return undefined;
}

/** A target option: a string in one of the forms `direction` takes. */
function target(direction: keyof typeof TARGET_FORMS): z.ZodString {
  return z.string().superRefine((value, ctx) => {
    const message = targetProblem(value, direction);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message });
  });
}

/** A count of migrations: a positive whole number. */
function migrationCount(): z.ZodNumber {
  return z.number({ error: 'must be a positive whole number' }).int().positive();
}

/** The metadata every `step` option shares: `option(migrationCount(), { ...STEP, description })`. */
const STEP = { placeholder: 'n', decode: 'count', default: '1' } as const;

/**
 * The rule that `a` and `b` exclude each other, as an object refinement: the issue is on `b`,
 * and says which option it conflicts with in `params.conflictsWith` (the CLI names the flag).
 */
function exclusive<T extends object>(
  a: keyof T & string,
  b: keyof T & string,
): (value: T, ctx: z.RefinementCtx) => void {
  return (value, ctx) => {
    if (value[a] !== undefined && value[b] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: [b],
        message: `cannot be combined with ${a}`,
        params: { conflictsWith: a },
      });
  };
}

/**
 * For the object-level rules: run them even when a field has a problem too, so that every
 * problem is reported at once.
 */
const ALWAYS = { when: () => true };

/** Options every call takes (`status()` too). */
export const callOptionsSchema = z.strictObject({
  /**
   * Cancel the whole call after this long, in ms or as `"30s"`, like an abort, with `RUN_TIMEOUT`.
   * Time spent queued behind an earlier call of the same migrator counts. @default none
   */
  timeout: option(duration.optional(), {
    ...DURATION,
    description:
      'Cancel the whole run (lock wait included) after this long, with RUN_TIMEOUT; what ' +
      'finished before stays',
    default: '0, none',
  }),
});

const { timeout } = callOptionsSchema.shape;

/** Options of one `up()` call. */
export const upOptionsSchema = z.strictObject({
  /** Apply pending migrations up to and including this version: a version, an unambiguous prefix, or `+N`. @default all pending */
  to: option(target('up').optional(), {
    description:
      'Apply pending migrations up to and including this version, version prefix, or +N (N more) ' +
      '(default: all)',
    placeholder: 'target',
  }),
  /** Apply pending migrations older than the newest applied one (merged from a parallel branch) instead of refusing. @default false */
  allowOutOfOrder: option(z.boolean().optional(), {
    description:
      'Also apply pending migrations older than the newest applied one (merged from a parallel ' +
      'branch) instead of refusing',
  }),
  /** Run the whole run in one transaction; refused when a migration in it is non-transactional. @default false */
  singleTransaction: option(z.boolean().optional(), {
    description:
      'Apply the whole run in one transaction: all or nothing. Refused when a migration in it is ' +
      'transaction:false',
  }),
  /** Refuse to run when lint finds a warning or an error in a pending migration (as the config's `lint.strict`). @default false */
  strict: option(z.boolean().optional(), {
    description:
      'Refuse to run when lint (offloop lint) finds a warning or an error in a pending ' +
      'migration; without it, findings are printed as warnings and the run goes on',
  }),
  timeout,
});

/** Options of one `down()` call: one step by default. */
export const downOptionsSchema = z
  .strictObject({
    /** Revert this many migrations. @default 1 */
    step: option(migrationCount().optional(), {
      ...STEP,
      description: 'Revert the last N applied migrations; more than are applied is refused',
    }),
    /** Revert every migration after this version (which stays applied): a version, prefix, `-N`, or `base` for all. */
    to: option(target('down').optional(), {
      description:
        'Revert every migration applied after this applied version or version prefix (it stays ' +
        'applied); base reverts all, -N the last N',
      placeholder: 'target',
    }),
    timeout,
  })
  .superRefine(exclusive('step', 'to'), ALWAYS);

const { step } = downOptionsSchema.shape;
const { allowOutOfOrder } = upOptionsSchema.shape;

/** Options of one `redo()` call. */
export const redoOptionsSchema = z.strictObject({
  // Not down's step: redo reverts and re-applies, and its help says so.
  /** Revert and re-apply this many migrations. @default 1 */
  step: option(migrationCount().optional(), {
    ...STEP,
    description: 'Redo the last N applied migrations; more than are applied is refused',
  }),
  timeout,
});

/** Options of one `stamp()` call. */
export const stampOptionsSchema = z.strictObject({
  /** Record the database as being at this version (or prefix), or `base`. */
  to: option(target('any'), {
    description: 'The version to record the database as being at (or prefix), or base for none',
    placeholder: 'version',
  }),
  timeout,
});

/** Options of one `repair()` call. */
export const repairOptionsSchema = z.strictObject({
  /** Report what would change and change nothing. @default false */
  dryRun: option(z.boolean().optional(), {
    description: 'Show what would change, and change nothing',
  }),
  /** Also forget applied migrations whose files are gone. @default false */
  forgetMissing: option(z.boolean().optional(), {
    description: 'Also forget applied migrations whose files are gone (their down is not run)',
  }),
  timeout,
});

/** Options of one `check()` call. */
export const checkOptionsSchema = z.strictObject({
  // Not up's allowOutOfOrder: check applies nothing; the option changes what counts as a problem.
  /** Do not count out-of-order pending migrations as a problem. @default false */
  allowOutOfOrder: option(z.boolean().optional(), {
    description: 'Do not count pending migrations older than the newest applied one as a problem',
  }),
  timeout,
});

/** Options of one `lint()` call. */
export const lintOptionsSchema = z.strictObject({
  /** Lint every migration, applied ones too; offline, every migration is always linted. @default false: the pending ones */
  all: option(z.boolean().optional(), {
    description:
      'Lint every migration, applied ones too (connected, the default is the pending ones; ' +
      'offline, every one)',
  }),
  /** Read no database: every migration is linted, findings are not graded by table size. @default false */
  offline: option(z.boolean().optional(), {
    description:
      'Do not connect even when a database is configured: lint every migration, with no grading ' +
      'by table size (the default when no database is named)',
  }),
  /** Fail on warnings too (as the config's `lint.strict`). @default false */
  strict: option(z.boolean().optional(), {
    description: 'Fail on warnings too, not only on errors',
  }),
  timeout,
});

/** Options of one `plan()` or `sql()` (offline script) call. */
export const scriptOptionsSchema = z
  .strictObject({
    /** @default 'up' */
    direction: option(z.enum(['up', 'down']).default('up'), {
      description: 'The command to preview: up or down',
      placeholder: 'direction',
    }),
    /** Take the database to be at this version (`base` for empty) instead of reading it: needs no database. Only for `sql`. */
    from: option(target('from').optional(), {
      description:
        'With --sql: take the database to be at this version (base: empty) instead of reading ' +
        'it; then no database is needed at all',
      placeholder: 'version',
    }),
    // Neither up's nor down's to: which forms it takes depends on the direction (checked below).
    /** Up: stop at this version. Down: revert everything after it. */
    to: option(z.string().optional(), {
      description:
        "As the command's --to: up to this version (or +N); with --down, revert all after it " +
        '(base, -N)',
      placeholder: 'target',
    }),
    /** Down: as `down()`'s. */
    step,
    /** Up: as `up()`'s. */
    allowOutOfOrder,
    timeout,
  })
  .superRefine((value, ctx) => {
    // The target's forms depend on the direction, so it is checked here rather than on its field.
    if (typeof value.to !== 'string') return;
    const message = targetProblem(value.to, value.direction === 'down' ? 'down' : 'up');
    if (message !== undefined) ctx.addIssue({ code: 'custom', path: ['to'], message });
  }, ALWAYS)
  .superRefine(exclusive('step', 'to'), ALWAYS);

/** Every operation's options schema, by the name of its engine command. */
export const OPERATION_SCHEMAS = {
  up: upOptionsSchema,
  down: downOptionsSchema,
  redo: redoOptionsSchema,
  status: callOptionsSchema,
  history: callOptionsSchema,
  current: callOptionsSchema,
  stamp: stampOptionsSchema,
  repair: repairOptionsSchema,
  check: checkOptionsSchema,
  lint: lintOptionsSchema,
  plan: scriptOptionsSchema,
  sql: scriptOptionsSchema,
} as const;

/** The name of an operation (and of its engine command). */
export type CommandName = keyof typeof OPERATION_SCHEMAS;

/** The options of operation `N` as a caller writes them (`timeout` included). */
export type OperationInput<N extends CommandName> = z.input<(typeof OPERATION_SCHEMAS)[N]>;

/**
 * The arguments of operation `N` as the engine takes them: its options after validation and
 * defaults, less `timeout`, which the host enforces around the call.
 */
export type OperationArgs<N extends CommandName> = Readonly<
  Omit<z.output<(typeof OPERATION_SCHEMAS)[N]>, 'timeout'>
>;
