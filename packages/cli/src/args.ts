/**
 * The command line: flag definitions, parsing with `node:util` `parseArgs`, and the problems it
 * finds. Parsing never stops at the first problem: unknown flags, missing values and repeated
 * flags are all collected, so that one run reports everything that is wrong.
 */
import { parseArgs } from 'node:util';
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

/** A command's flags by long name (kebab-case, as typed). */
export type FlagSpecs = { readonly [name: string]: FlagSpec };

/** Flag values by long name; a flag that was not given is absent. */
export type FlagValues = { readonly [name: string]: string | boolean | undefined };

/** What {@link parseCommandLine} found. */
export type ParsedArgs = {
  readonly values: FlagValues;
  readonly positionals: readonly string[];
  /** Every problem with the flags themselves, with the flag as `path` (`--bogus`). */
  readonly issues: readonly ConfigIssue[];
};

/**
 * Parse a command's arguments (after the command name) against its flags.
 *
 * `strict: false` so that parsing goes on past an unknown flag; the tokens are then checked
 * here, all of them, instead of `parseArgs` throwing on the first problem.
 */
export function parseCommandLine(args: readonly string[], flags: FlagSpecs): ParsedArgs {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, spec]) => [
      name,
      spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short },
    ]),
  );
  const { values, positionals, tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = flags[token.name];
    if (spec === undefined) {
      issues.push({ path: token.rawName, message: 'unknown flag' });
      continue;
    }
    if (spec.type === 'boolean') {
      if (token.value !== undefined)
        issues.push({ path: `--${token.name}`, message: 'takes no value' });
      continue;
    }
    if (token.value === undefined) {
      issues.push({
        path: `--${token.name}`,
        message: `needs a value: --${token.name} <${spec.placeholder ?? 'value'}>`,
      });
    } else if (!token.inlineValue && token.value.startsWith('-') && !/^-\d+$/.test(token.value)) {
      // (A negative number is a value: `down --to -2`.)
      // `--url --json`: parseArgs would take "--json" as the URL. Almost always a missing value.
      issues.push({
        path: `--${token.name}`,
        message: `needs a value, got the flag ${token.value} (write --${token.name}=${token.value} if you mean it)`,
      });
    } else if (seen.has(token.name)) {
      issues.push({ path: `--${token.name}`, message: 'given more than once' });
    }
    seen.add(token.name);
  }
  const known: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(values)) {
    const spec = flags[name];
    if (spec === undefined || value === undefined || Array.isArray(value)) continue;
    if (spec.type === 'boolean' ? value === true : typeof value === 'string') known[name] = value;
  }
  return { values: known, positionals, issues };
}

/**
 * The command line could not be understood: an unknown command, or missing or extra arguments.
 * Not an offloop error code of its own: it is the CLI's, and has its own exit code.
 */
export class UsageError extends Error {
  /** Shown in `--json` output as the error's `code`. */
  readonly code = 'USAGE';
  /** Every problem found, the flags' included. */
  readonly issues: readonly ConfigIssue[];
  /** The command whose help to point at, if known. */
  readonly command: string | null;

  constructor(message: string, issues: readonly ConfigIssue[], command: string | null) {
    super(message);
    this.name = 'UsageError';
    this.issues = issues;
    this.command = command;
  }

  /** The error as `--json` prints it, shaped like an offloop error envelope. */
  toJSON(): {
    code: 'USAGE';
    message: string;
    details: { issues: readonly ConfigIssue[]; command: string | null };
  } {
    return {
      code: this.code,
      message: this.message,
      details: { issues: this.issues, command: this.command },
    };
  }
}

/** A {@link UsageError} listing the positional problems and the flag problems together. */
export function usageError(
  command: string,
  positionalIssues: readonly ConfigIssue[],
  parsed: ParsedArgs,
): UsageError {
  const issues = [...positionalIssues, ...parsed.issues];
  return new UsageError(
    `Invalid command line for offloop ${command}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
    issues,
    command,
  );
}

/** Problems for arguments a command does not take. */
export function unexpectedArguments(
  command: string,
  positionals: readonly string[],
): ConfigIssue[] {
  return positionals.map((value) => ({
    path: value,
    message: `unexpected argument: offloop ${command} takes no arguments`,
  }));
}

/** `--json` and `--help`, taken by every command. */
export const OUTPUT_FLAGS = {
  json: {
    type: 'boolean',
    description: 'Print exactly one JSON document on stdout: the result, or {"error": ...}',
  },
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
} as const satisfies FlagSpecs;
