/**
 * The flags that set a migrator option (`--lock-timeout` sets `lockTimeout`), as data: each flag
 * names the option it sets and how its text becomes the option's value. The option's own schema
 * (core's `configSchema`) checks the value and gives the default shown in help.
 */
import { configSchema, toConfigIssues, type ConfigInput, type ConfigIssue } from '@offloop/core';
import { NBSP } from '../format.ts';
import type { FlagSpec } from './spec.ts';

/** A migrator option a flag can set: every option but `cwd`, which is the working directory. */
type OptionName = Exclude<keyof ConfigInput, 'cwd'>;

/** A flag that sets a migrator option. */
type OptionFlagSpec = FlagSpec & {
  readonly type: 'string';
  /** The option it sets; its config-file key. */
  readonly option: OptionName;
  /**
   * How the text becomes the option's value before the schema checks it: `integer` for a whole
   * number (anything else is passed on for the schema to refuse), `json` for an object option.
   * @default the text itself
   */
  readonly decode?: 'integer' | 'json';
};

type DurationOption =
  | 'lockTimeout'
  | 'statementTimeout'
  | 'statementLockTimeout'
  | 'migrationTimeout'
  | 'connectTimeout'
  | 'cancelGracePeriod';

/** The schema's own default for an option, so that help text cannot disagree with it. */
export function schemaDefault(
  option: 'dir' | 'schema' | 'table' | 'workerNice' | DurationOption,
): unknown {
  return configSchema.shape[option].parse(undefined);
}

function durationDefault(option: DurationOption): string {
  const ms = Number(schemaDefault(option));
  if (ms === 0) return '0, none';
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** `--dir <path>`, taken by every command. */
export const DIR_FLAGS = {
  dir: {
    type: 'string',
    option: 'dir',
    placeholder: 'path',
    description: 'Directory of migration files',
    default: String(schemaDefault('dir')),
  },
} as const satisfies Record<string, OptionFlagSpec>;

/** The flags of the commands that talk to a database, each setting the option of the same name. */
export const DATABASE_FLAGS = {
  url: {
    type: 'string',
    option: 'url',
    placeholder: 'url',
    description:
      'Database URL, postgres://user:password@host:port/database or any form psql takes (default: DATABASE_URL, then the config file, ' +
      'then PGHOST, PGDATABASE, ... as psql reads them, then an embedded PostgreSQL with its data in .offloop/pg)',
  },
  ...DIR_FLAGS,
  schema: {
    type: 'string',
    option: 'schema',
    placeholder: 'name',
    description: 'Schema of the version table',
    default: String(schemaDefault('schema')),
  },
  table: {
    type: 'string',
    option: 'table',
    placeholder: 'name',
    description: 'Name of the version table',
    default: String(schemaDefault('table')),
  },
  'lock-timeout': {
    type: 'string',
    option: 'lockTimeout',
    placeholder: 'duration',
    description: "How long to wait for another runner's migration lock: 1500, 1500ms, 30s, 5m, 1h",
    default: durationDefault('lockTimeout'),
  },
  'lock-url': {
    type: 'string',
    option: 'lockUrl',
    placeholder: 'url',
    description:
      'A direct connection to the same database for the advisory lock, when --url goes through PgBouncer in transaction mode',
  },
  'statement-timeout': {
    type: 'string',
    option: 'statementTimeout',
    placeholder: 'duration',
    description: 'PostgreSQL statement_timeout for migration statements',
    default: durationDefault('statementTimeout'),
  },
  'statement-lock-timeout': {
    type: 'string',
    option: 'statementLockTimeout',
    placeholder: 'duration',
    description:
      'PostgreSQL lock_timeout for migration statements: how long one may wait for a table lock (a marker-line lock_timeout overrides it)',
    default: durationDefault('statementLockTimeout'),
  },
  'migration-timeout': {
    type: 'string',
    option: 'migrationTimeout',
    placeholder: 'duration',
    description: 'Cancel and roll back a migration that runs longer than this',
    default: durationDefault('migrationTimeout'),
  },
  'connect-timeout': {
    type: 'string',
    option: 'connectTimeout',
    placeholder: 'duration',
    description: 'How long to wait for a database connection',
    default: durationDefault('connectTimeout'),
  },
  'applied-by': {
    type: 'string',
    option: 'appliedBy',
    placeholder: 'text',
    description: 'Recorded as applied_by in the version table',
    default: `<os${NBSP}user>@<host>`,
  },
  'cancel-grace-period': {
    type: 'string',
    option: 'cancelGracePeriod',
    placeholder: 'duration',
    description:
      'After a cancel or timeout, how long the worker thread may take to stop before it is terminated',
    default: durationDefault('cancelGracePeriod'),
  },
  'worker-nice': {
    type: 'string',
    option: 'workerNice',
    decode: 'integer',
    placeholder: 'n',
    description:
      'CPU priority of the worker thread as a nice value, 0-19 (Linux; higher yields the CPU to the host)',
    default: String(schemaDefault('workerNice')),
  },
  'worker-resource-limits': {
    type: 'string',
    option: 'workerResourceLimits',
    decode: 'json',
    placeholder: 'json',
    description: `V8 heap limits of the worker thread, as JSON: '{"maxOldGenerationSizeMb":${NBSP}512}' (also maxYoungGenerationSizeMb, codeRangeSizeMb, stackSizeMb)`,
  },
} as const satisfies Record<string, OptionFlagSpec>;

const OPTION_FLAG_SPECS: Readonly<Record<string, OptionFlagSpec>> = DATABASE_FLAGS;

/** Every option flag and the config-file key it sets, for docs and tests. */
export const OPTION_FLAGS: Readonly<Record<string, OptionName>> = Object.fromEntries(
  Object.entries(OPTION_FLAG_SPECS).map(([flag, spec]) => [flag, spec.option]),
);

/** The flag that sets `option`, if one does. */
function flagForOption(option: string): string | undefined {
  return Object.entries(OPTION_FLAGS).find(([, name]) => name === option)?.[0];
}

/**
 * The options the given option flags set, decoded as their specs say and checked by the schema.
 * Every problem is added to `issues` on its flag (`--worker-resource-limits stackSizeMb`).
 */
export function optionsFromFlags(
  values: Readonly<Record<string, string | boolean | undefined>>,
  issues: ConfigIssue[],
): Record<string, unknown> {
  const options = decodeOptionFlags(values, issues);
  const result = configSchema.partial().safeParse(options);
  if (!result.success) {
    for (const issue of toConfigIssues(result.error)) {
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
  return options;
}

/**
 * The options the given option flags set, decoded as their specs say but not yet checked. A
 * value that cannot be decoded adds an issue.
 */
function decodeOptionFlags(
  values: Readonly<Record<string, string | boolean | undefined>>,
  issues: ConfigIssue[],
): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(values)) {
    const spec = OPTION_FLAG_SPECS[flag];
    if (spec === undefined || typeof value !== 'string') continue;
    if (spec.decode === 'integer') {
      options[spec.option] = /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    } else if (spec.decode === 'json') {
      try {
        options[spec.option] = JSON.parse(value) as unknown;
      } catch (error) {
        issues.push({ path: `--${flag}`, message: `not valid JSON: ${(error as Error).message}` });
      }
    } else {
      options[spec.option] = value;
    }
  }
  return options;
}
