/**
 * The configuration of one command, loaded from its sources: flags over `DATABASE_URL` over the
 * config file over defaults, every source validated by core's zod schema, every problem of every
 * source reported at once as one `CONFIG_INVALID` error.
 *
 * Without a URL from any of them, the `PG*` variables of libpq's environment name the database, as
 * they do for `psql`; only when nothing at all names one is the embedded PostgreSQL used.
 *
 * A flag's name is the option's name in kebab-case (`--lock-timeout` sets `lockTimeout`; see
 * `flags/database-options.ts`). A relative `dir` in a config file is relative to the file's
 * directory, a relative `--dir` to the working directory.
 */
import { resolve } from 'node:path';
import {
  ConfigError,
  configSchema,
  formatConfigIssues,
  LIBPQ_ENVIRONMENT,
  resolvePostgresUrl,
  type ConfigInput,
  type ConfigIssue,
} from '@offloop/core';
import type { Io } from './io.ts';
import { loadConfigFile } from './config-file.ts';
import { optionsFromFlags, schemaDefault } from './flags/database-options.ts';
import type { ParsedArgs } from './flags/spec.ts';

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

/** Options of {@link loadConfig}. */
type LoadConfigOptions = {
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
export async function loadConfig(
  parsed: ParsedArgs,
  io: Io,
  options: LoadConfigOptions,
): Promise<CliConfig> {
  const issues: ConfigIssue[] = [...parsed.issues, ...(options.issues ?? [])];
  const config = parsed.values.config;
  const file = await loadConfigFile(
    typeof config === 'string' ? config : undefined,
    io.cwd,
    issues,
  );
  const fileValues: Values = file?.values ?? {};
  const flagValues = optionsFromFlags(parsed.values, issues);
  const secrets = [...(file?.urls ?? []), ...urlsIn(flagValues)];
  // An ambient DATABASE_URL that a flag overrides is not this command's business.
  const rawEnvUrl =
    options.database && flagValues.url === undefined ? io.env.DATABASE_URL : undefined;
  if (rawEnvUrl !== undefined && rawEnvUrl !== '') secrets.push(rawEnvUrl);
  const envUrl = checkedEnvUrl(rawEnvUrl, issues);
  // No URL anywhere: libpq's environment, as psql reads it. A CI job that sets PGHOST and forgets
  // DATABASE_URL must migrate that database (or fail), never an embedded one.
  const libpqUrl =
    options.database &&
    flagValues.url === undefined &&
    envUrl === null &&
    fileValues.url === undefined
      ? urlFromLibpqEnvironment(io.env, issues)
      : null;

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
    // The ledger's schema: migrationsSchema, else the schema migrations run in.
    versionTable: [
      rest.migrationsSchema ?? rest.schema ?? schemaDefault('schema'),
      rest.table ?? schemaDefault('table'),
    ]
      .map(String)
      .join('.'),
    secrets,
  };
}

/** `DATABASE_URL` if it is set and valid; a bad one adds its problems. */
function checkedEnvUrl(url: string | undefined, issues: ConfigIssue[]): string | null {
  if (url === undefined || url === '') return null;
  const result = configSchema.shape.url.safeParse(url);
  if (result.success) return url;
  issues.push(
    ...result.error.issues.map((issue) => ({ path: 'DATABASE_URL', message: issue.message })),
  );
  return null;
}

/**
 * The URL libpq's `PG*` variables name, if any is set; a service file (which offloop does not
 * read) or variables libpq would refuse add a problem.
 */
function urlFromLibpqEnvironment(env: Io['env'], issues: ConfigIssue[]): string | null {
  const names = LIBPQ_ENVIRONMENT.filter((name) => (env[name] ?? '') !== '');
  if (names.length === 0) return null;
  if (names.includes('PGSERVICE')) {
    issues.push({
      path: 'PGSERVICE',
      message:
        'offloop does not read pg_service.conf: give the database with --url or DATABASE_URL, or ' +
        'with PGHOST, PGDATABASE, ... instead',
    });
    return null;
  }
  const resolved = resolvePostgresUrl('postgres://', env);
  if (resolved.url !== undefined) return resolved.url;
  issues.push(...resolved.problems.map((message) => ({ path: 'PG* environment', message })));
  return null;
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

/** The URLs among options (`url`, `lockUrl`), for the output to redact. */
function urlsIn(values: Values): string[] {
  return [values.url, values.lockUrl].filter((value) => typeof value === 'string');
}
