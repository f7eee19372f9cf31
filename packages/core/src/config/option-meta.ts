/**
 * What an option says about itself beyond its type, attached to its zod schema: the text `--help`
 * and `docs/cli.md` show, the placeholder of its flag, and how the flag's text becomes a value.
 * The CLI builds its flags from this; the schema stays the one place an option is declared.
 */
import { z } from 'zod';

/** How a flag's text becomes the option's value before the schema checks it. */
export type OptionDecode =
  /** The text itself. */
  | 'text'
  /** The text itself, checked as a duration by the schema (`1500`, `30s`, `5m`, `1h`). */
  | 'duration'
  /** A whole number, sign and surrounding spaces allowed; anything else is passed on as text. */
  | 'integer'
  /** A count: digits only; anything else is passed on as text, for the schema to refuse. */
  | 'count'
  /** JSON, for an object option. */
  | 'json'
  /** Digits: a count; anything else: a list of names separated by commas (`--canary 2`, `--canary a,b`). */
  | 'count-or-names';

/** The metadata of one option. */
export type OptionMeta = {
  /** One sentence or two for `--help` and `docs/cli.md`. */
  readonly description: string;
  /** The flag's placeholder in help: `--dir <path>`. A boolean option has none. */
  readonly placeholder?: string;
  /** @default 'text' for a string option */
  readonly decode?: OptionDecode;
  /**
   * The default as help shows it, when the schema has none of its own to show (the engine's
   * default) or its own needs words (`<os user>@<host>`). @default the schema's default
   */
  readonly default?: string;
};

/** The metadata every duration option shares: `option(duration, { ...DURATION, description })`. */
export const DURATION = { placeholder: 'duration', decode: 'duration' } as const;

/** Every option's metadata, by its schema. */
export const optionMeta = z.registry<OptionMeta>();

/** `schema`, registered with its metadata: the way every option of an operation is declared. */
export function option<S extends z.ZodType>(schema: S, meta: OptionMeta): S {
  optionMeta.add(schema, meta);
  return schema;
}
