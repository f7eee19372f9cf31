/**
 * offloop's configuration: one zod schema shared by the library, the CLI flags, `DATABASE_URL`
 * and the config file. Input goes through {@link parseConfig} once; deeper code takes only the
 * {@link ResolvedConfig} it returns.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { resolvePostgresUrl } from './connection-url.ts';
import { ConfigError, type ConfigIssue } from '../errors/index.ts';
import { duration } from './duration-option.ts';
import { DURATION, option } from './option-meta.ts';
import { LINT_RULE_IDS, type LintLevel, type LintRuleId } from '../model/lint.ts';

/**
 * PostgreSQL identifiers offloop accepts for its schema and table (and a fleet target's schema):
 * plain names, 63 bytes at most.
 */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export const identifier = z
  .string()
  .regex(
    IDENTIFIER_PATTERN,
    'must be a plain PostgreSQL identifier: a letter or _, then letters, ' +
      'digits or _, at most 63 characters',
  );
// The log table is named `<table>_log`, which must fit in 63 bytes too.
const tableIdentifier = identifier.max(
  59,
  'must be at most 59 characters (offloop adds _log for its log table)',
);

/**
 * A connection URL in any form libpq takes, resolved as libpq resolves it (see
 * connection-url.ts): missing parts from the `PG*` environment and libpq's defaults.
 */
export const postgresUrl = z.string().transform((value, ctx) => {
  const resolved = resolvePostgresUrl(value);
  if (resolved.problems === undefined) return resolved.url;
  for (const message of resolved.problems) ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
});

/** A migration version: the 14-digit UTC timestamp `YYYYMMDDHHMMSS` of a file name. */
export const VERSION_PATTERN = /^\d{14}$/;

/** A lint rule's level in the configuration. */
const lintLevel = z.enum(['off', 'note', 'warning', 'error']);

/** The `lint` option: levels per rule (docs/lint.md) and whether findings stop `up`. */
const lintSchema = z.strictObject({
  /** A level per rule id: `off`, `note`, `warning` or `error`. @default each rule's own */
  rules: z
    .partialRecord(z.enum(LINT_RULE_IDS as [LintRuleId, ...LintRuleId[]]), lintLevel)
    .optional(),
  /** Treat warnings as errors: `lint` fails on them, `up` and `check` refuse to run. @default false */
  strict: z.boolean().optional(),
});

/**
 * The options a migrator takes. Each field's JSDoc documents it for the host API; its
 * {@link option} metadata gives its CLI flag (the key in kebab-case) and help text.
 */
export const configSchema = z.strictObject({
  /**
   * Database URL, `postgres://user:password@host:port/database`, or any form libpq takes
   * (`postgres://user@/database?host=/var/run/postgresql`); what it leaves out comes from the
   * `PG*` environment, as in `psql`.
   */
  url: option(postgresUrl, {
    description:
      'Database URL, postgres://user:password@host:port/database or any form psql takes ' +
      '(default: DATABASE_URL, then the config file, then PGHOST, PGDATABASE, ... as psql reads ' +
      'them, then an embedded PostgreSQL with its data in .offloop/pg)',
    placeholder: 'url',
  }),
  /** Directory of migration files, relative to `cwd`. @default "./migrations" */
  dir: option(z.string().min(1).default('./migrations'), {
    description: 'Directory of migration files',
    placeholder: 'path',
  }),
  /**
   * The schema migrations run in: first on the `search_path` of every session that runs them
   * (then `public`, where extensions usually live), created by the first run that applies a
   * migration, and where the version table is unless `migrationsSchema` says otherwise.
   * @default "public"
   */
  schema: option(identifier.default('public'), {
    description:
      'Schema the migrations run in: first on their search_path (then public), created when ' +
      "missing; also the version table's unless --migrations-schema",
    placeholder: 'name',
  }),
  /**
   * Schema of the version table and its log (the ledger). The run's advisory locks follow it:
   * runners that share a ledger wait for one another. @default the value of `schema`
   */
  migrationsSchema: option(identifier.optional(), {
    description: 'Schema of the version table and its log; the run lock follows it',
    placeholder: 'name',
    default: 'the\u00a0schema',
  }),
  /** Name of the version table. @default "offloop_migrations" */
  table: option(tableIdentifier.default('offloop_migrations'), {
    description: 'Name of the version table',
    placeholder: 'name',
  }),
  /** How long to wait for another runner's lock, in ms or as `"30s"`. @default 60000 */
  lockTimeout: option(duration.default(60_000), {
    ...DURATION,
    description: "How long to wait for another runner's migration lock: 1500, 1500ms, 30s, 5m, 1h",
  }),
  /** A direct connection URL for the advisory lock, when `url` goes through PgBouncer in transaction mode. */
  lockUrl: option(postgresUrl.optional(), {
    description:
      'A direct connection to the same database for the advisory lock, when --url goes through ' +
      'PgBouncer in transaction mode',
    placeholder: 'url',
  }),
  /** PostgreSQL `statement_timeout` for migration statements; 0 means none. @default 0 */
  statementTimeout: option(duration.default(0), {
    ...DURATION,
    description: 'PostgreSQL statement_timeout for migration statements',
  }),
  /**
   * PostgreSQL `lock_timeout` of a migration's first attempt; each retry after a lock timeout
   * doubles it, up to `lockRetryMaxTimeout` (see `lockRetries`). A marker-line `lock_timeout` (or
   * a module's `lockTimeout`) replaces it with a fixed one. 0 means none, and so no retries: a
   * statement waits for its lock as long as it takes, and every query on its table waits behind
   * it. @default 100
   */
  statementLockTimeout: option(duration.default(100), {
    ...DURATION,
    description:
      "PostgreSQL lock_timeout of a migration's first attempt, doubled on each retry up to " +
      '--lock-retry-max-timeout (a marker-line lock_timeout replaces it with a fixed one; 0: none, ' +
      'no retries)',
  }),
  /**
   * How many times a migration whose statement could not get its lock within `lock_timeout`
   * (SQLSTATE 55P03) is rolled back and tried again, after a pause; then it fails with
   * `LOCK_NOT_AVAILABLE`, naming the session that held the lock. A non-transactional migration
   * retries only the statement that timed out. 0 turns retries off; a marker line's
   * `lock_retries:<n>` (a module's `lockRetries`) overrides it. @default 10
   */
  lockRetries: option(z.number().int().min(0).max(1000).default(10), {
    description:
      'How many times a migration that could not get a lock within its lock_timeout is rolled ' +
      'back and tried again (0: no retries; a marker-line lock_retries overrides it)',
    placeholder: 'n',
    decode: 'count',
  }),
  /**
   * The longest `lock_timeout` retries grow to (from `statementLockTimeout`, doubled on each
   * retry): the longest the application's queries on a table can queue behind one attempt.
   * @default 1000
   */
  lockRetryMaxTimeout: option(duration.default(1_000), {
    ...DURATION,
    description:
      'The longest lock_timeout retries grow to: the longest one attempt can hold up the ' +
      "application's queries on its table",
  }),
  /**
   * The longest pause between two attempts: pauses start near 250 ms and double, each scaled
   * by a random factor in [0.5, 1.5) so that replicas do not retry in step. @default 10000
   */
  lockRetryMaxWait: option(duration.default(10_000), {
    ...DURATION,
    description:
      'The longest pause between two lock retries (pauses start near 250ms and double, with jitter)',
  }),
  /** Cancel a migration that runs longer than this; 0 means no limit. @default 0 */
  migrationTimeout: option(duration.default(0), {
    ...DURATION,
    description: 'Cancel and roll back a migration that runs longer than this',
  }),
  /** How long to wait for a database connection. @default 10000 */
  connectTimeout: option(duration.default(10_000), {
    ...DURATION,
    description: 'How long to wait for a database connection',
  }),
  /** Recorded as `applied_by` in the version table. @default "<os user>@<host>" */
  appliedBy: option(z.string().min(1).max(200).optional(), {
    description: 'Recorded as applied_by in the version table',
    placeholder: 'text',
    // A no-break space: help keeps the default on one line.
    default: '<os\u00a0user>@<host>',
  }),
  /** Base directory for a relative `dir`. @default process.cwd() */
  cwd: z.string().min(1).optional(),
  /** After a cancel or timeout, how long the worker may take to stop before its thread is terminated. @default 5000 */
  cancelGracePeriod: option(duration.default(5_000), {
    ...DURATION,
    description:
      'After a cancel or timeout, how long the worker thread may take to stop before it is ' +
      'terminated',
  }),
  /**
   * How long the worker thread, and the database connection it read with, stay after a call: a
   * server that calls `status()` every few seconds starts the thread and connects once. Idle, the
   * thread keeps no process alive; `close()` ends both at once. 0 ends them after every call.
   * @default 30000
   */
  workerIdleTimeout: option(duration.default(30_000), {
    ...DURATION,
    description:
      'How long the worker thread and its idle database connection stay after a call (0: end them after each call)',
  }),
  /**
   * CPU priority of the worker thread as a nice value (0-19, higher is lower priority): on a
   * busy machine the host's own threads (its requests) get the CPU first. Linux only, where nice
   * is per thread; elsewhere it would slow the whole process, so it is not applied. @default 10
   */
  workerNice: option(z.number().int().min(0).max(19).default(10), {
    description:
      'CPU priority of the worker thread as a nice value, 0-19 (Linux; higher yields the CPU to ' +
      'the host)',
    placeholder: 'n',
    decode: 'integer',
  }),
  /** V8 heap limits of the worker thread (Node's `resourceLimits`); exceeding them ends the run with `WORKER_OUT_OF_MEMORY`. */
  workerResourceLimits: option(
    z
      .strictObject({
        maxOldGenerationSizeMb: z.number().positive().optional(),
        maxYoungGenerationSizeMb: z.number().positive().optional(),
        codeRangeSizeMb: z.number().positive().optional(),
        stackSizeMb: z.number().positive().optional(),
      })
      .optional(),
    {
      description:
        `V8 heap limits of the worker thread, as JSON: '{"maxOldGenerationSizeMb":\u00a0512}' ` +
        '(also maxYoungGenerationSizeMb, codeRangeSizeMb, stackSizeMb)',
      placeholder: 'json',
      decode: 'json',
    },
  ),
  /**
   * The linter's settings (docs/lint.md): `{ "rules": { "drop-column": "off" }, "strict": true }`.
   * With `strict`, `up` and `check` refuse to run when lint finds a warning or an error.
   */
  lint: option(lintSchema.optional(), {
    description:
      'Lint settings, as JSON: \'{"rules":\u00a0{"drop-column":\u00a0"off"},\u00a0"strict":\u00a0true}\' ' +
      '(levels: off, note, warning, error; strict: up and check refuse to run on findings)',
    placeholder: 'json',
    decode: 'json',
  }),
  /**
   * The PostgreSQL major version the lint rules assume when no database is connected (when one
   * is, its version is used). @default the newest: version-dependent rules stay quiet
   */
  postgresVersion: option(z.number().int().min(9).max(99).optional(), {
    description:
      'PostgreSQL major version that offline lint assumes for version-dependent rules (default: ' +
      'the connected server, else the newest)',
    placeholder: 'n',
    decode: 'integer',
  }),
});

/** Options as a caller writes them. */
export type ConfigInput = z.input<typeof configSchema>;

/** Options after validation and defaults; what the engine takes. */
export type ResolvedConfig = {
  readonly url: string;
  /** Absolute path of the migrations directory. */
  readonly dir: string;
  /** The schema migrations run in: first on their `search_path`. */
  readonly schema: string;
  /** The schema of the version table and its log (`schema` unless set apart). */
  readonly migrationsSchema: string;
  /** The version table's name; its log is `<table>_log`, beside it. */
  readonly table: string;
  readonly lockTimeout: number;
  readonly lockUrl: string | null;
  readonly statementTimeout: number;
  readonly statementLockTimeout: number;
  readonly lockRetries: number;
  readonly lockRetryMaxTimeout: number;
  readonly lockRetryMaxWait: number;
  readonly migrationTimeout: number;
  readonly connectTimeout: number;
  readonly appliedBy: string | null;
  readonly cancelGracePeriod: number;
  readonly workerIdleTimeout: number;
  readonly workerNice: number;
  readonly workerResourceLimits: WorkerResourceLimits | null;
  readonly lint: LintConfig;
  /** The PostgreSQL major version offline lint assumes; null for the newest. */
  readonly postgresVersion: number | null;
};

/** The linter's settings, resolved. */
export type LintConfig = {
  /** Levels set per rule; a rule not listed has its own. */
  readonly rules: Readonly<Partial<Record<LintRuleId, LintLevel>>>;
  readonly strict: boolean;
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
  const listed = issues.map((issue) => `${issue.path}: ${issue.message}`);
  return `Invalid ${source}: ${listed.join('; ')}`;
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
    migrationsSchema: value.migrationsSchema ?? value.schema,
    table: value.table,
    lockTimeout: value.lockTimeout,
    lockUrl: value.lockUrl ?? null,
    statementTimeout: value.statementTimeout,
    statementLockTimeout: value.statementLockTimeout,
    lockRetries: value.lockRetries,
    lockRetryMaxTimeout: value.lockRetryMaxTimeout,
    lockRetryMaxWait: value.lockRetryMaxWait,
    migrationTimeout: value.migrationTimeout,
    connectTimeout: value.connectTimeout,
    appliedBy: value.appliedBy ?? null,
    cancelGracePeriod: value.cancelGracePeriod,
    workerIdleTimeout: value.workerIdleTimeout,
    workerNice: value.workerNice,
    workerResourceLimits: value.workerResourceLimits ?? null,
    lint: { rules: value.lint?.rules ?? {}, strict: value.lint?.strict ?? false },
    postgresVersion: value.postgresVersion ?? null,
  };
}
