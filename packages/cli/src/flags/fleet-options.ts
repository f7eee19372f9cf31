/**
 * The flags of `offloop fleet ...`: the fleet's own options (`--schemas`, `--concurrency`,
 * `--canary`, ...), made from core's `fleetSchema` as the migrator's flags are made from
 * `configSchema` (which gives the fleet's commands `--url`, `--dir`, ... through
 * `DATABASE_FLAGS`), and `--targets <file>`, the CLI's way to give a list of targets.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  ConfigError,
  configSchema,
  fleetSchema,
  type ConfigIssue,
  type FleetTarget,
} from '@offloop/core';
import { displayPath } from '../format.ts';
import { decodeFlags, flagIssue, optionFlags, type OptionFlagSpec } from './option-flags.ts';
import type { FlagSpecs } from './spec.ts';

/** The migrator's options: `DATABASE_FLAGS` already makes their flags. */
const MIGRATOR_OPTIONS = Object.keys(configSchema.shape) as (keyof typeof configSchema.shape)[];

/** `--targets <file>`: the targets, one per line. */
const TARGETS_FILE_FLAG = {
  targets: {
    type: 'string',
    placeholder: 'file',
    description:
      'Read the targets from this file: one per line, a URL and optionally a schema after a ' +
      'space; # starts a comment',
  },
} as const satisfies FlagSpecs;

/**
 * Every option of a fleet that is not a migrator's, as a flag; `targets` (a list or a function)
 * is `--targets <file>` instead. An option added to `fleetSchema` is a flag of `fleet up`.
 */
const FLEET_OPTION_FLAGS = optionFlags(fleetSchema, [...MIGRATOR_OPTIONS, 'targets']);

const { schemas, ...HOW_TO_RUN } = FLEET_OPTION_FLAGS;

/** The flags of `fleet up`: where the targets are (`--targets <file>` with them), how they run. */
export const FLEET_FLAGS = { schemas, ...TARGETS_FILE_FLAG, ...HOW_TO_RUN } as const;

/** What only a run needs: `fleet status` and `fleet check` read, they do not run. */
const {
  canary: _canary,
  'on-error': _onError,
  'max-failures': _maxFailures,
  ...READ
} = FLEET_FLAGS;

/** The flags of `fleet status` and `fleet check`: {@link FLEET_FLAGS} less the canary and the failure policy. */
export const FLEET_READ_FLAGS = READ;

/** `--allow-empty`: a fleet that finds no target is not an error (`fleet up`, `fleet check`). */
export const ALLOW_EMPTY_FLAG = {
  'allow-empty': {
    type: 'boolean',
    description:
      'Succeed when no target is found (a new deployment with no tenants yet); without it, ' +
      'finding none fails with FLEET_EMPTY, as a mistyped --schemas glob would',
  },
} as const satisfies FlagSpecs;

const FLAG_SPECS: { readonly [flag: string]: OptionFlagSpec } = FLEET_OPTION_FLAGS;

/** Flag values as the parser gives them, by flag name. */
type Values = Readonly<Record<string, string | boolean | undefined>>;

/**
 * The fleet's own options the given flags set, decoded as their specs say and checked by the
 * schema; every problem is added to `issues` on its flag. Rules across options (`--max-failures`
 * only with `--on-error continue`) are the fleet's to check, when it is created
 * ({@link flagConfigError} puts its problems on the flags).
 */
export function fleetOptionsFromFlags(
  values: Values,
  issues: ConfigIssue[],
): Record<string, unknown> {
  const specs = Object.fromEntries(
    Object.entries(FLAG_SPECS).filter(([flag]) => values[flag] !== undefined),
  );
  const options = decodeFlags(specs, values, issues);
  const result = fleetSchema.partial().safeParse(options);
  if (!result.success)
    issues.push(...result.error.issues.map((issue) => flagIssue(issue, FLAG_SPECS, values)));
  return options;
}

/**
 * The targets of the file `--targets` names (relative to `cwd`), or undefined without the flag.
 * A file that cannot be read or has a bad line adds an issue.
 */
export async function readTargetsFile(
  path: string | undefined,
  cwd: string,
  issues: ConfigIssue[],
): Promise<FleetTarget[] | undefined> {
  if (path === undefined) return undefined;
  const file = resolve(cwd, path);
  const shown = displayPath(file, cwd);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (code ?? String(error));
    issues.push({ path: '--targets', message: `cannot read ${shown}: ${reason}` });
    return [];
  }
  // Imported here: the worker's host module is not needed for --help.
  const { parseTargetsFile } = await import('@offloop/worker');
  try {
    const targets = parseTargetsFile(text, shown);
    if (targets.length === 0)
      issues.push({ path: '--targets', message: `${shown} lists no targets` });
    return targets;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.details.issues);
    return [];
  }
}

/**
 * A fleet's configuration problem with its paths on the flags that set them (`maxFailures` is
 * `--max-failures`), as the CLI's other configuration problems are; other errors as they are.
 */
export function flagConfigError(error: unknown): unknown {
  if (!(error instanceof ConfigError)) return error;
  const flagOf = new Map(
    Object.entries(FLAG_SPECS).map(([flag, spec]) => [spec.option, `--${flag}`]),
  );
  const issues = error.details.issues.map((issue) => {
    const flag = flagOf.get(issue.path);
    return flag === undefined ? issue : { ...issue, path: flag };
  });
  return new ConfigError(
    `Invalid fleet options: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
    { issues },
  );
}
