/**
 * The CLI's configuration: flags over `DATABASE_URL` over the config file over defaults, every
 * source validated by core's zod schema, every problem of every source reported at once as one
 * `CONFIG_INVALID` error.
 *
 * Without a URL from any of them, the `PG*` variables of libpq's environment name the database, as
 * they do for `psql`; only when nothing at all names one is the embedded PostgreSQL used.
 *
 * The config file is `offloop.config.json` in the working directory (optional), or the file
 * `--config <path>` names (required). Its keys are the option names (`lockTimeout`), a flag's
 * name is the option's name in kebab-case (`--lock-timeout`). A relative `dir` in a config file
 * is relative to the file's directory, a relative `--dir` to the working directory.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import {
  ConfigError,
  configSchema,
  formatConfigIssues,
  LIBPQ_ENVIRONMENT,
  resolvePostgresUrl,
  toConfigIssues,
  type ConfigInput,
  type ConfigIssue,
} from '@offloop/core';
import type { FlagSpecs, ParsedArgs } from './args.ts';
import type { Io } from './command.ts';
import { NBSP } from './format.ts';

/** The config file looked for in the working directory. */
export const CONFIG_FILE_NAME = 'offloop.config.json';

/** Options the CLI sets, by the flag that sets them. */
const OPTION_BY_FLAG = {
  url: 'url',
  dir: 'dir',
  schema: 'schema',
  table: 'table',
  'lock-timeout': 'lockTimeout',
  'lock-url': 'lockUrl',
  'statement-timeout': 'statementTimeout',
  'statement-lock-timeout': 'statementLockTimeout',
  'migration-timeout': 'migrationTimeout',
  'connect-timeout': 'connectTimeout',
  'applied-by': 'appliedBy',
  'cancel-grace-period': 'cancelGracePeriod',
  'worker-nice': 'workerNice',
  'worker-resource-limits': 'workerResourceLimits',
} as const satisfies Record<string, Exclude<keyof ConfigInput, 'cwd'>>;

/** Flags whose value is JSON text (an object option), parsed before validation. */
const JSON_FLAGS: ReadonlySet<string> = new Set(['worker-resource-limits']);
/** Flags whose value is a whole number; anything else is passed on for the schema to refuse. */
const INTEGER_FLAGS: ReadonlySet<string> = new Set(['worker-nice']);

type OptionFlag = keyof typeof OPTION_BY_FLAG;
type OptionName = (typeof OPTION_BY_FLAG)[OptionFlag];

const FLAG_BY_OPTION = Object.fromEntries(
  Object.entries(OPTION_BY_FLAG).map(([flag, option]) => [option, flag]),
) as Record<OptionName, OptionFlag>;

/** The schema's own default for an option, so that help text cannot disagree with it. */
type DurationOption =
  | 'lockTimeout'
  | 'statementTimeout'
  | 'statementLockTimeout'
  | 'migrationTimeout'
  | 'connectTimeout'
  | 'cancelGracePeriod';

function schemaDefault(
  option: 'dir' | 'schema' | 'table' | 'workerNice' | DurationOption,
): unknown {
  return configSchema.shape[option].parse(undefined);
}

function durationDefault(option: DurationOption): string {
  const ms = Number(schemaDefault(option));
  if (ms === 0) return '0, none';
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** `--config <path>`, taken by every command. */
export const CONFIG_FILE_FLAGS = {
  config: {
    type: 'string',
    placeholder: 'path',
    description: `Read options from this JSON file instead of ./${CONFIG_FILE_NAME}`,
  },
} as const satisfies FlagSpecs;

/** `--dir <path>`, taken by every command. */
export const DIR_FLAGS = {
  dir: {
    type: 'string',
    placeholder: 'path',
    description: 'Directory of migration files',
    default: String(schemaDefault('dir')),
  },
} as const satisfies FlagSpecs;

/** The flags of the commands that talk to a database, each setting the option of the same name. */
export const DATABASE_FLAGS = {
  url: {
    type: 'string',
    placeholder: 'url',
    description:
      'Database URL, postgres://user:password@host:port/database or any form psql takes (default: DATABASE_URL, then the config file, ' +
      'then PGHOST, PGDATABASE, ... as psql reads them, then an embedded PostgreSQL with its data in .offloop/pg)',
  },
  ...DIR_FLAGS,
  schema: {
    type: 'string',
    placeholder: 'name',
    description: 'Schema of the version table',
    default: String(schemaDefault('schema')),
  },
  table: {
    type: 'string',
    placeholder: 'name',
    description: 'Name of the version table',
    default: String(schemaDefault('table')),
  },
  'lock-timeout': {
    type: 'string',
    placeholder: 'duration',
    description: "How long to wait for another runner's migration lock: 1500, 1500ms, 30s, 5m, 1h",
    default: durationDefault('lockTimeout'),
  },
  'lock-url': {
    type: 'string',
    placeholder: 'url',
    description:
      'A direct connection to the same database for the advisory lock, when --url goes through PgBouncer in transaction mode',
  },
  'statement-timeout': {
    type: 'string',
    placeholder: 'duration',
    description: 'PostgreSQL statement_timeout for migration statements',
    default: durationDefault('statementTimeout'),
  },
  'statement-lock-timeout': {
    type: 'string',
    placeholder: 'duration',
    description:
      'PostgreSQL lock_timeout for migration statements: how long one may wait for a table lock (a marker-line lock_timeout overrides it)',
    default: durationDefault('statementLockTimeout'),
  },
  'migration-timeout': {
    type: 'string',
    placeholder: 'duration',
    description: 'Cancel and roll back a migration that runs longer than this',
    default: durationDefault('migrationTimeout'),
  },
  'connect-timeout': {
    type: 'string',
    placeholder: 'duration',
    description: 'How long to wait for a database connection',
    default: durationDefault('connectTimeout'),
  },
  'applied-by': {
    type: 'string',
    placeholder: 'text',
    description: 'Recorded as applied_by in the version table',
    default: `<os${NBSP}user>@<host>`,
  },
  'cancel-grace-period': {
    type: 'string',
    placeholder: 'duration',
    description:
      'After a cancel or timeout, how long the worker thread may take to stop before it is terminated',
    default: durationDefault('cancelGracePeriod'),
  },
  'worker-nice': {
    type: 'string',
    placeholder: 'n',
    description:
      'CPU priority of the worker thread as a nice value, 0-19 (Linux; higher yields the CPU to the host)',
    default: String(schemaDefault('workerNice')),
  },
  'worker-resource-limits': {
    type: 'string',
    placeholder: 'json',
    description: `V8 heap limits of the worker thread, as JSON: '{"maxOldGenerationSizeMb":${NBSP}512}' (also maxYoungGenerationSizeMb, codeRangeSizeMb, stackSizeMb)`,
  },
} as const satisfies FlagSpecs;

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

/** Every option flag and the config-file key it sets, for docs and tests. */
export const OPTION_FLAGS: Readonly<Record<string, string>> = OPTION_BY_FLAG;

/** Where the database URL came from: `--url`, `DATABASE_URL`, the config file, or libpq's `PG*` variables. */
export type UrlSource = 'flag' | 'env' | 'file' | 'libpq-env';

/** The configuration of one command, validated. */
export type CliConfig = {
  /** Options for `createMigrator`, `url` left out: see {@link CliConfig.url}. */
  readonly options: Omit<ConfigInput, 'url'>;
  /**
   * The database URL, resolved as libpq resolves it (what it leaves out filled in from the `PG*`
   * environment), or null when nothing names a database (the embedded PostgreSQL is used).
   */
  readonly url: string | null;
  readonly urlSource: UrlSource | null;
  /** Absolute path of the config file read, if any. */
  readonly configFile: string | null;
  /** Absolute path of the migrations directory. */
  readonly dir: string;
  /** `schema.table` of the version table, for display. */
  readonly versionTable: string;
  /** Every URL found in any source, for the output to redact even where it was not used. */
  readonly secrets: readonly string[];
};

/** Options of {@link resolveConfig}. */
export type ResolveOptions = {
  /** Whether the command talks to a database; if not, `DATABASE_URL` is not read. */
  readonly database: boolean;
  /** Problems the command found in its own flags (`--to`), reported with the others. */
  readonly issues?: readonly ConfigIssue[];
};

type Values = Record<string, unknown>;

/**
 * Merge flags, `DATABASE_URL`, the config file and defaults, validating every source.
 *
 * @throws ConfigError listing every problem: unknown flags, flags without values, unknown keys
 *   and bad values in the config file, a bad `DATABASE_URL`, bad flag values.
 */
export async function resolveConfig(
  parsed: ParsedArgs,
  io: Io,
  options: ResolveOptions,
): Promise<CliConfig> {
  const issues: ConfigIssue[] = [...parsed.issues, ...(options.issues ?? [])];
  const secrets: string[] = [];
  const partial = configSchema.partial();

  const file = await readConfigFile(parsed.values.config, io.cwd, issues);
  let fileValues: Values = {};
  if (file !== null) {
    const label = displayPath(file.path, io.cwd);
    collectSecrets(file.values, secrets);
    if ('cwd' in file.values) {
      issues.push({
        path: `${label}: cwd`,
        message:
          "not allowed in a config file: a relative dir is resolved from the file's directory",
      });
    }
    const { cwd: _ignored, ...values } = file.values;
    const result = partial.safeParse(values);
    if (result.success) {
      fileValues = values;
      if (typeof values.dir === 'string' && !isAbsolute(values.dir))
        fileValues = { ...values, dir: resolve(dirname(file.path), values.dir) };
    } else {
      for (const issue of toConfigIssues(result.error)) {
        issues.push({
          path: issue.path === '(root)' ? label : `${label}: ${issue.path}`,
          message: issue.message,
        });
      }
    }
  }

  const flagValues: Values = {};
  for (const [flag, value] of Object.entries(parsed.values)) {
    if (!(flag in OPTION_BY_FLAG) || typeof value !== 'string') continue;
    const option = OPTION_BY_FLAG[flag as OptionFlag];
    if (INTEGER_FLAGS.has(flag)) {
      flagValues[option] = /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      continue;
    }
    if (!JSON_FLAGS.has(flag)) {
      flagValues[option] = value;
      continue;
    }
    try {
      flagValues[option] = JSON.parse(value) as unknown;
    } catch (error) {
      issues.push({ path: `--${flag}`, message: `not valid JSON: ${(error as Error).message}` });
    }
  }
  collectSecrets(flagValues, secrets);
  const flagResult = partial.safeParse(flagValues);
  if (!flagResult.success) {
    for (const issue of toConfigIssues(flagResult.error)) {
      // A nested key (workerResourceLimits.stackSizeMb) is reported on its flag, with the key.
      const [option = '', ...inner] = issue.path.split('.');
      const flag = FLAG_BY_OPTION[option as OptionName] as OptionFlag | undefined;
      const key = inner.length === 0 ? '' : ` ${inner.join('.')}`;
      issues.push({
        path: flag === undefined ? issue.path : `--${flag}${key}`,
        message: issue.message,
      });
    }
  }

  let envUrl: string | null = null;
  const rawEnvUrl = io.env.DATABASE_URL;
  // An ambient DATABASE_URL that a flag overrides is not this command's business.
  if (
    options.database &&
    flagValues.url === undefined &&
    rawEnvUrl !== undefined &&
    rawEnvUrl !== ''
  ) {
    secrets.push(rawEnvUrl);
    const result = configSchema.shape.url.safeParse(rawEnvUrl);
    if (result.success) envUrl = rawEnvUrl;
    else
      issues.push(
        ...result.error.issues.map((issue) => ({ path: 'DATABASE_URL', message: issue.message })),
      );
  }

  // No URL anywhere: libpq's environment, as psql reads it. A CI job that sets PGHOST and forgets
  // DATABASE_URL must migrate that database (or fail), never an embedded one.
  let libpqUrl: string | null = null;
  const libpqNames = LIBPQ_ENVIRONMENT.filter((name) => (io.env[name] ?? '') !== '');
  if (
    options.database &&
    flagValues.url === undefined &&
    envUrl === null &&
    fileValues.url === undefined &&
    libpqNames.length > 0
  ) {
    if (libpqNames.includes('PGSERVICE')) {
      issues.push({
        path: 'PGSERVICE',
        message:
          'offloop does not read pg_service.conf: give the database with --url or DATABASE_URL, or with PGHOST, PGDATABASE, ... instead',
      });
    } else {
      const resolved = resolvePostgresUrl('postgres://', io.env);
      if (resolved.url === undefined)
        issues.push(...resolved.problems.map((message) => ({ path: 'PG* environment', message })));
      else libpqUrl = resolved.url;
    }
  }

  if (issues.length > 0) throw new ConfigError(formatConfigIssues(issues), { issues });

  const merged: Values = {
    ...fileValues,
    ...(envUrl === null ? {} : { url: envUrl }),
    ...flagValues,
  };
  const { url: givenUrl, ...rest } = merged;
  const urlSource: UrlSource | null =
    flagValues.url !== undefined
      ? 'flag'
      : envUrl !== null
        ? 'env'
        : fileValues.url !== undefined
          ? 'file'
          : libpqUrl !== null
            ? 'libpq-env'
            : null;
  const urlPath = urlSource === 'flag' ? '--url' : urlSource === 'env' ? 'DATABASE_URL' : 'url';
  const url = !options.database
    ? null
    : typeof givenUrl === 'string'
      ? resolveUrl(givenUrl, urlPath, io)
      : libpqUrl;
  if (url !== null) secrets.push(url);
  if (options.database && typeof rest.lockUrl === 'string')
    secrets.push(
      resolveUrl(rest.lockUrl, flagValues.lockUrl === undefined ? 'lockUrl' : '--lock-url', io),
    );
  const dir = resolve(
    io.cwd,
    typeof rest.dir === 'string' ? rest.dir : String(schemaDefault('dir')),
  );
  return {
    // Each source passed the schema above; createMigrator parses the merged options once more.
    options: { ...(rest as Omit<ConfigInput, 'url'>), cwd: io.cwd },
    url,
    urlSource: options.database ? urlSource : null,
    configFile: file?.path ?? null,
    dir,
    versionTable: `${String(rest.schema ?? schemaDefault('schema'))}.${String(rest.table ?? schemaDefault('table'))}`,
    secrets,
  };
}

/**
 * A URL that passed the schema, resolved with the command's environment (the form shown as
 * "Database:" and passed on). The schema resolved it with the process's, which is the same one
 * outside of tests; a difference is still reported, not ignored.
 */
function resolveUrl(url: string, path: string, io: Io): string {
  const resolved = resolvePostgresUrl(url, io.env);
  if (resolved.url !== undefined) return resolved.url;
  const issues = resolved.problems.map((message) => ({ path, message }));
  throw new ConfigError(formatConfigIssues(issues), { issues });
}

async function readConfigFile(
  flag: string | boolean | undefined,
  cwd: string,
  issues: ConfigIssue[],
): Promise<{ path: string; values: Values } | null> {
  const explicit = typeof flag === 'string';
  const path = explicit ? resolve(cwd, flag) : resolve(cwd, CONFIG_FILE_NAME);
  const label = displayPath(path, cwd);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!explicit && code === 'ENOENT') return null;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (code ?? String(error));
    issues.push({
      path: explicit ? '--config' : label,
      message: `cannot read ${label}: ${reason}`,
    });
    return null;
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    issues.push({ path: label, message: `not valid JSON: ${(error as Error).message}` });
    return null;
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    issues.push({
      path: label,
      message: 'must be a JSON object of options, like {"dir": "./migrations"}',
    });
    return null;
  }
  return { path, values: values as Values };
}

function collectSecrets(values: Values, secrets: string[]): void {
  for (const key of ['url', 'lockUrl']) {
    const value = values[key];
    if (typeof value === 'string') secrets.push(value);
  }
}

/** A path as the user would type it: relative to `cwd` when inside it, absolute otherwise. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
