/**
 * The command line parsed with `node:util` `parseArgs` against a command's flags. Parsing never
 * stops at the first problem: unknown flags, missing values and repeated flags are all
 * collected, so that one run reports everything that is wrong.
 */
import { parseArgs } from 'node:util';
import type { ConfigIssue } from '@offloop/core';
import type { FlagSpecs, FlagValues, ParsedArgs } from './spec.ts';

/**
 * Parse a command's arguments (after the command name) against its flags.
 *
 * `strict: false` so that parsing goes on past an unknown flag; the tokens are then checked
 * here, all of them, instead of `parseArgs` throwing on the first problem.
 */
export function parseCommandLine<const S extends FlagSpecs>(
  args: readonly string[],
  flags: S,
): ParsedArgs<S> {
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
        message:
          `needs a value, got the flag ${token.value} (write --${token.name}=${token.value} if ` +
          'you mean it)',
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
  // Each value was kept only if its type is the one its spec names: what FlagValues<S> says.
  return { values: known as FlagValues<S>, positionals, issues };
}
