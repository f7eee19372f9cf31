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
import { dirname, isAbsolute, resolve } from 'node:path';
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
import type { Io } from './command.ts';
import { readConfigFile } from './config-file.ts';
import { flagForOption, optionsFromFlags, schemaDefault } from './flags/database-options.ts';
import type { ParsedArgs } from './flags/spec.ts';
import { displayPath } from './format.ts';

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
  const secrets: string[] = [];
  const partial = configSchema.partial();

  const config = parsed.values.config;
  const file = await readConfigFile(
    typeof config === 'string' ? config : undefined,
    io.cwd,
    issues,
  );
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

  const flagValues = optionsFromFlags(parsed.values, issues);
  collectSecrets(flagValues, secrets);
  const flagResult = partial.safeParse(flagValues);
  if (!flagResult.success) {
    for (const issue of toConfigIssues(flagResult.error)) {
      // A nested key (workerResourceLimits.stackSizeMb) is reported on its flag, with the key.
      const [option = '', ...inner] = issue.path.split('.');
      const flag = flagForOption(option);
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

function collectSecrets(values: Values, secrets: string[]): void {
  for (const key of ['url', 'lockUrl']) {
    const value = values[key];
    if (typeof value === 'string') secrets.push(value);
  }
}
