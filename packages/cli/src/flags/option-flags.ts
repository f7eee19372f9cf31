/**
 * Flags made from an options schema (an operation's in core's `OPERATION_SCHEMAS`, or the
 * migrator's `configSchema`): each field is a flag named by its key in kebab-case
 * (`allowOutOfOrder` is `--allow-out-of-order`), a boolean field a boolean flag; its help text,
 * placeholder and default come from the field's metadata. Reading the flags back decodes their
 * text as the metadata says and lets the schema judge it, its problems put on the flags.
 */
import { messageOf, optionMeta, type ConfigIssue, type OptionMeta } from '@offloop/core';
import type { z } from 'zod';
import type { FlagSpec, FlagValue } from './spec.ts';

/** A key as a flag name, at the type level: `allowOutOfOrder` is `allow-out-of-order`. */
type Kebab<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `-${Lowercase<Head>}`}${Kebab<Tail>}`
  : S;

/** `allowOutOfOrder` as a flag name: `allow-out-of-order`. */
export function kebab<S extends string>(key: S): Kebab<S> {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`) as Kebab<S>;
}

/** An options schema: a zod object whose fields are options. */
type OptionsSchema = z.ZodObject;

/** The flag of an option whose values are `T`: boolean for a boolean option, else text. */
type FlagFor<T> = [NonNullable<T>] extends [boolean]
  ? { readonly type: 'boolean' }
  : { readonly type: 'string' };

/** A flag that sets an option: what help shows, the option it sets, and how. */
export type OptionFlagSpec = FlagSpec & {
  /** The option it sets; its config-file key. */
  readonly option: string;
  /** How its text becomes the option's value. */
  readonly decode: NonNullable<OptionMeta['decode']> | 'boolean';
};

/** The flag of option `K`, whose values are `T`. */
type TypedOptionFlag<K extends string, T> = OptionFlagSpec & FlagFor<T> & { readonly option: K };

/** The flags of options `K` of `S`, by flag name, in the order of `K`. */
type OptionFlags<S extends OptionsSchema, K extends keyof S['shape'] & string> = {
  readonly [P in K as Kebab<P>]: TypedOptionFlag<P, z.input<S['shape'][P]>>;
};

/** The metadata of `schema`, which every option has (a test walks every schema to be sure). */
function metaOf(schema: z.ZodType, key: string): OptionMeta {
  const meta = optionMeta.get(schema);
  if (meta === undefined)
    throw new Error(`option ${key} has no metadata: declare it with option()`);
  return meta;
}

/** The type of a field under its `optional()` and `default()`: `boolean`, `string`, ... */
function baseType(schema: z.ZodType): string {
  const def: { readonly type: string; readonly innerType?: z.ZodType } = schema._zod.def;
  const wrapper = def.type === 'optional' || def.type === 'default' || def.type === 'nullable';
  return wrapper && def.innerType !== undefined ? baseType(def.innerType) : def.type;
}

/** A field's default as help shows it: its metadata's words, or the schema's own default. */
function defaultText(schema: z.ZodType, meta: OptionMeta): string | undefined {
  if (meta.default !== undefined) return meta.default;
  const parsed = schema.safeParse(undefined);
  const value: unknown = parsed.data;
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  if (meta.decode !== 'duration') return String(value);
  const ms = Number(value);
  if (ms === 0) return '0, none';
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The flag of one option. */
function flagOf(field: z.ZodType, key: string): OptionFlagSpec {
  const meta = metaOf(field, key);
  const fallback = defaultText(field, meta);
  const shown = fallback === undefined ? {} : { default: fallback };
  if (baseType(field) === 'boolean')
    return { type: 'boolean', option: key, decode: 'boolean', description: meta.description };
  return {
    type: 'string',
    option: key,
    decode: meta.decode ?? 'text',
    placeholder: meta.placeholder ?? 'value',
    description: meta.description,
    ...shown,
  };
}

/**
 * The flags of the options of `schema`, in its order: every option but those in `omit` (those
 * the command takes another way, or not at all). An option added to the schema is a flag of
 * every command made from it.
 */
export function optionFlags<
  S extends OptionsSchema,
  const O extends keyof S['shape'] & string = never,
>(schema: S, omit: readonly O[] = []): OptionFlags<S, Exclude<keyof S['shape'] & string, O>> {
  const shape = schema.shape as Record<string, z.ZodType>;
  const keys = Object.keys(shape).filter((key) => !(omit as readonly string[]).includes(key));
  const entries = keys.map((key) => [kebab(key), flagOf(shape[key] as z.ZodType, key)]);
  return Object.fromEntries(entries) as OptionFlags<S, Exclude<keyof S['shape'] & string, O>>;
}

/**
 * The value of a flag's text before the schema judges it, or a problem. What cannot be decoded
 * as its kind is passed on as text, for the schema to refuse with its own message.
 */
function decode(
  text: string | boolean,
  kind: OptionFlagSpec['decode'],
): { value: unknown } | { problem: string } {
  if (typeof text === 'boolean') return { value: text };
  switch (kind) {
    case 'integer':
      return { value: /^-?\d+$/.test(text.trim()) ? Number(text) : text };
    case 'count':
      // The text must be digits (no `1e3`, no ` 2`); the number is the schema's to judge.
      return { value: /^\d+$/.test(text) ? Number(text) : text };
    case 'count-or-names':
      if (/^\d+$/.test(text)) return { value: Number(text) };
      return {
        value: text
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== ''),
      };
    case 'json':
      try {
        return { value: JSON.parse(text) as unknown };
      } catch (error) {
        return { problem: `not valid JSON: ${messageOf(error)}` };
      }
    case 'text':
    case 'duration':
    case 'boolean':
      return { value: text };
  }
}

/** Flag values as the parser gives them, by flag name. */
type FlagTexts = { readonly [flag: string]: FlagValue<FlagSpec> | undefined };

/**
 * The options the given flags set, decoded as their specs say, by option name; not yet checked.
 * A value that cannot be decoded adds an issue on its flag.
 */
export function decodeFlags(
  flags: { readonly [flag: string]: OptionFlagSpec },
  values: FlagTexts,
  issues: ConfigIssue[],
): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [flag, spec] of Object.entries(flags)) {
    const text = values[flag];
    if (text === undefined) continue;
    const decoded = decode(text, spec.decode);
    if ('problem' in decoded) issues.push({ path: `--${flag}`, message: decoded.problem });
    else options[spec.option] = decoded.value;
  }
  return options;
}

/**
 * A schema's problem as a problem with a flag: on the flag of the option (a nested key after
 * it: `--worker-resource-limits stackSizeMb`), naming flags where it names options, and with the
 * text given when the message is a number check's, which does not show it.
 */
export function flagIssue(
  issue: z.core.$ZodIssue,
  flags: { readonly [flag: string]: OptionFlagSpec },
  values: FlagTexts,
): ConfigIssue {
  const [option, ...inner] = issue.path.map(String);
  const flag = Object.keys(flags).find((name) => flags[name]?.option === option);
  if (flag === undefined) return { path: issue.path.join('.') || '(root)', message: issue.message };
  const key = inner.length === 0 ? '' : ` ${inner.join('.')}`;
  const path = `--${flag}${key}`;
  const params = issue.code === 'custom' ? issue.params : undefined;
  const conflictsWith: unknown = params?.conflictsWith;
  if (typeof conflictsWith === 'string')
    return { path, message: `cannot be combined with --${kebab(conflictsWith)}` };
  const text = values[flag];
  if (flags[flag]?.decode === 'count' && issue.code !== 'custom' && typeof text === 'string')
    return { path, message: `${issue.message}; got "${text}"` };
  return { path, message: issue.message };
}

/**
 * The options `flags` set, checked by `schema` together with `given` (options that come from
 * elsewhere, as `stamp`'s positional version). Every problem is added to `issues`, on its flag.
 * When there is one, the options returned are never used: the command stops with its issues.
 */
export function readOptions<S extends OptionsSchema>(
  schema: S,
  flags: { readonly [flag: string]: OptionFlagSpec },
  values: FlagTexts,
  issues: ConfigIssue[],
  given: Partial<z.input<S>> = {},
): z.output<S> {
  const options = { ...given, ...decodeFlags(flags, values, issues) };
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  issues.push(...result.error.issues.map((issue) => flagIssue(issue, flags, values)));
  return options as z.output<S>;
}
