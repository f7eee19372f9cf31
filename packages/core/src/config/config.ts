/**
 * offloop's configuration: one zod schema shared by the library, the CLI flags, `DATABASE_URL`
 * and the config file. Input goes through {@link parseConfig} once; deeper code takes only the
 * {@link ResolvedConfig} it returns.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { displayUrl, resolvePostgresUrl } from './connection-url.ts';
import { ConfigError, type ConfigIssue } from '../errors/index.ts';

/** PostgreSQL identifiers offloop accepts for its schema and table: plain names, 63 bytes at most. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const identifier = z
  .string()
  .regex(
    IDENTIFIER,
    'must be a plain PostgreSQL identifier: a letter or _, then letters, digits or _, at most 63 characters',
  );
// The log table is named `<table>_log`, which must fit in 63 bytes too.
const tableIdentifier = identifier.max(
  59,
  'must be at most 59 characters (offloop adds _log for its log table)',
);

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Parse `1500`, `"1500"`, `"1500ms"`, `"30s"`, `"5m"` or `"1h"` into milliseconds. */
export function parseDuration(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!match) return value;
  const unit = (match[2] ?? 'ms') as keyof typeof DURATION_UNITS;
  return Math.round(Number(match[1]) * DURATION_UNITS[unit]);
}

const duration = z.preprocess(
  parseDuration,
  z
    .number({ error: 'must be a duration: milliseconds, or a number with ms, s, m or h' })
    .int()
    .nonnegative(),
);

/**
 * A connection URL in any form libpq takes, resolved as libpq resolves it (see
 * connection-url.ts): missing parts from the `PG*` environment and libpq's defaults.
 */
const postgresUrl = z.string().transform((value, ctx) => {
  const resolved = resolvePostgresUrl(value);
  if (resolved.problems === undefined) return resolved.url;
  for (const message of resolved.problems) ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
});

/** A migration version: the 14-digit UTC timestamp `YYYYMMDDHHMMSS` of a file name. */
export const VERSION_PATTERN = /^\d{14}$/;

/** The options a migrator takes, with the names of the CLI flags. */
export const configSchema = z.strictObject({
  /**
   * Database URL, `postgres://user:password@host:port/database`, or any form libpq takes
   * (`postgres://user@/database?host=/var/run/postgresql`); what it leaves out comes from the
   * `PG*` environment, as in `psql`.
   */
  url: postgresUrl,
  /** Directory of migration files, relative to `cwd`. @default "./migrations" */
  dir: z.string().min(1).default('./migrations'),
  /** Schema of the version table. @default "public" */
  schema: identifier.default('public'),
  /** Name of the version table. @default "offloop_migrations" */
  table: tableIdentifier.default('offloop_migrations'),
  /** How long to wait for another runner's lock, in ms or as `"30s"`. @default 60000 */
  lockTimeout: duration.default(60_000),
  /** A direct connection URL for the advisory lock, when `url` goes through PgBouncer in transaction mode. */
  lockUrl: postgresUrl.optional(),
  /** PostgreSQL `statement_timeout` for migration statements; 0 means none. @default 0 */
  statementTimeout: duration.default(0),
  /** PostgreSQL `lock_timeout` for migration statements (a marker option overrides it); 0 means none. @default 0 */
  statementLockTimeout: duration.default(0),
  /** Cancel a migration that runs longer than this; 0 means no limit. @default 0 */
  migrationTimeout: duration.default(0),
  /** How long to wait for a database connection. @default 10000 */
  connectTimeout: duration.default(10_000),
  /** Recorded as `applied_by` in the version table. @default "<os user>@<host>" */
  appliedBy: z.string().min(1).max(200).optional(),
  /** Base directory for a relative `dir`. @default process.cwd() */
  cwd: z.string().min(1).optional(),
  /** After a cancel or timeout, how long the worker may take to stop before its thread is terminated. @default 5000 */
  cancelGracePeriod: duration.default(5_000),
  /**
   * CPU priority of the worker thread as a nice value (0-19, higher is lower priority): on a
   * busy machine the host's own threads (its requests) get the CPU first. Linux only, where nice
   * is per thread; elsewhere it would slow the whole process, so it is not applied. @default 10
   */
  workerNice: z.number().int().min(0).max(19).default(10),
  /** V8 heap limits of the worker thread (Node's `resourceLimits`); exceeding them ends the run with `WORKER_OUT_OF_MEMORY`. */
  workerResourceLimits: z
    .strictObject({
      maxOldGenerationSizeMb: z.number().positive().optional(),
      maxYoungGenerationSizeMb: z.number().positive().optional(),
      codeRangeSizeMb: z.number().positive().optional(),
      stackSizeMb: z.number().positive().optional(),
    })
    .optional(),
});

/** Options as a caller writes them. */
export type ConfigInput = z.input<typeof configSchema>;

/** Options after validation and defaults; what the engine takes. */
export type ResolvedConfig = {
  readonly url: string;
  /** Absolute path of the migrations directory. */
  readonly dir: string;
  readonly schema: string;
  readonly table: string;
  readonly lockTimeout: number;
  readonly lockUrl: string | null;
  readonly statementTimeout: number;
  readonly statementLockTimeout: number;
  readonly migrationTimeout: number;
  readonly connectTimeout: number;
  readonly appliedBy: string | null;
  readonly cancelGracePeriod: number;
  readonly workerNice: number;
  readonly workerResourceLimits: WorkerResourceLimits | null;
};

/** V8 heap limits of the worker thread, as Node's `Worker` `resourceLimits` takes them. */
export type WorkerResourceLimits = {
  readonly maxOldGenerationSizeMb?: number | undefined;
  readonly maxYoungGenerationSizeMb?: number | undefined;
  readonly codeRangeSizeMb?: number | undefined;
  readonly stackSizeMb?: number | undefined;
};

/** Turn zod issues into offloop's {@link ConfigIssue}s. */
export function toConfigIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return {
        path: path || '(root)',
        message: `unknown option${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`,
      };
    }
    return { path: path || '(root)', message: issue.message };
  });
}

/** Format issues as one message: `Invalid configuration: url: ...; table: ...`. */
export function formatConfigIssues(
  issues: readonly ConfigIssue[],
  source = 'configuration',
): string {
  return `Invalid ${source}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`;
}

/**
 * Validate options and fill in defaults. Every problem is reported at once, unknown keys
 * included, as one {@link ConfigError}.
 */
export function parseConfig(input: unknown, source = 'configuration'): ResolvedConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const issues = toConfigIssues(result.error);
    throw new ConfigError(formatConfigIssues(issues, source), { issues });
  }
  const value = result.data;
  return {
    url: value.url,
    dir: resolve(value.cwd ?? process.cwd(), value.dir),
    schema: value.schema,
    table: value.table,
    lockTimeout: value.lockTimeout,
    lockUrl: value.lockUrl ?? null,
    statementTimeout: value.statementTimeout,
    statementLockTimeout: value.statementLockTimeout,
    migrationTimeout: value.migrationTimeout,
    connectTimeout: value.connectTimeout,
    appliedBy: value.appliedBy ?? null,
    cancelGracePeriod: value.cancelGracePeriod,
    workerNice: value.workerNice,
    workerResourceLimits: value.workerResourceLimits ?? null,
  };
}

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

/**
 * Replace the password of a database URL with `***`, for anything that is printed or logged. A
 * socket directory shows as `?host=/path`, and offloop's run tag in `application_name` is left out.
 */
export function redactUrl(url: string): string {
  return displayUrl(url) ?? '(unparseable URL)';
}
