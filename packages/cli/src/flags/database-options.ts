/**
 * The flags that set a migrator option (`--lock-timeout` sets `lockTimeout`), made from core's
 * `configSchema`: each option's flag, help text and default come from its field there, and the
 * same schema checks the values.
 */
import { configSchema, type ConfigIssue } from '@offloop/core';
import { decodeFlags, flagIssue, optionFlags, type OptionFlagSpec } from './option-flags.ts';

/** A migrator option a flag can set: every option but `cwd`, which is the working directory. */
type OptionName = Exclude<keyof typeof configSchema.shape, 'cwd'>;

/** The schema's own default for an option. */
export function schemaDefault(option: OptionName): unknown {
  return configSchema.shape[option].safeParse(undefined).data;
}

/** The flags of the commands that talk to a database, each setting the option of the same name. */
export const DATABASE_FLAGS = optionFlags(configSchema, ['cwd']);

/** `--dir <path>`, taken by every command. */
export const DIR_FLAGS = { dir: DATABASE_FLAGS.dir } as const;

const OPTION_FLAG_SPECS: { readonly [flag: string]: OptionFlagSpec } = DATABASE_FLAGS;

/** Every option flag and the config-file key it sets, for docs and tests. */
export const OPTION_FLAGS: Readonly<Record<string, OptionName>> = Object.fromEntries(
  Object.entries(DATABASE_FLAGS).map(([flag, spec]) => [flag, spec.option]),
);

/**
 * The options the given option flags set, decoded as their specs say and checked by the schema.
 * Every problem is added to `issues` on its flag (`--worker-resource-limits stackSizeMb`).
 */
export function optionsFromFlags(
  values: Readonly<Record<string, string | boolean | undefined>>,
  issues: ConfigIssue[],
): Record<string, unknown> {
  const options = decodeFlags(OPTION_FLAG_SPECS, values, issues);
  const result = configSchema.partial().safeParse(options);
  if (!result.success)
    issues.push(...result.error.issues.map((issue) => flagIssue(issue, OPTION_FLAG_SPECS, values)));
  return options;
}
