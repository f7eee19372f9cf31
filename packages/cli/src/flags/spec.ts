/**
 * What a flag is, as data: its kind, its help text, and (for the flags that set a migrator
 * option) the option it sets. A command's flags are one `as const` object of these; the values
 * parsed from a command line are typed from it, so `values['allow-out-of-order']` is
 * `boolean | undefined` and a misspelt flag name does not compile.
 */
import type { ConfigIssue } from '@offloop/core';

/** One flag of a command. */
export type FlagSpec = {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder shown in help for a string flag: `--dir <path>`. */
  readonly placeholder?: string;
  readonly description: string;
  /** Shown in help as `(default: ...)`. */
  readonly default?: string;
};

/** A command's flags by long name (kebab-case, as typed), in the order help lists them. */
export type FlagSpecs = { readonly [name: string]: FlagSpec };

/** The value of one flag: `true` for a boolean flag that was given, the text of a string flag. */
export type FlagValue<F extends FlagSpec> = ValueOfType<F['type']>;

// Distributes over a union, so that a flag of either type has either kind of value.
type ValueOfType<T extends FlagSpec['type']> = T extends 'boolean' ? boolean : string;

/** Flag values by long name, typed from the specs; a flag that was not given is absent. */
export type FlagValues<S extends FlagSpecs> = { readonly [K in keyof S]?: FlagValue<S[K]> };

/** What `parseCommandLine` found. */
export type ParsedArgs<S extends FlagSpecs = FlagSpecs> = {
  readonly values: FlagValues<S>;
  readonly positionals: readonly string[];
  /** Every problem with the flags themselves, with the flag as `path` (`--bogus`). */
  readonly issues: readonly ConfigIssue[];
};
