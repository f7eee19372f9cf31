/**
 * `up --sql` and `down --sql`: print the exact script the command would run, and nothing else,
 * on stdout. With `--from` no database is needed at all: none is read, none is started.
 */
import type { ConfigIssue } from '@offloop/core';
import type { FlagSpecs, ParsedArgs } from './args.ts';
import type { CommandContext } from './command.ts';
import { resolveConfig } from './config.ts';
import { EXIT_OK } from './exit-codes.ts';
import { withMigrator } from './migrator.ts';
import { readTarget } from './targets.ts';

/** `--sql` and `--from`, taken by `up` and `down`. */
export const SCRIPT_FLAGS = {
  sql: {
    type: 'boolean',
    description:
      'Print the SQL script this command would run, version-table statements and transaction boundaries included, instead of running it ' +
      '(for review, or psql -v ON_ERROR_STOP=1 -f). Writes nothing, takes no lock; without --from it reads the version table',
  },
  from: {
    type: 'string',
    placeholder: 'version',
    description:
      'With --sql: take the database to be at this version (base: empty) instead of reading it; then no database is needed at all',
  },
} as const satisfies FlagSpecs;

/** What the script covers, besides `--from`. */
export type ScriptRequest = {
  readonly direction: 'up' | 'down';
  readonly to: string | undefined;
  readonly step: number | undefined;
  readonly allowOutOfOrder: boolean | undefined;
  readonly timeout: number | undefined;
};

/** Issues of `--from` given without `--sql`, and its value. */
export function readFrom(args: ParsedArgs, issues: ConfigIssue[]): string | undefined {
  const from = readTarget(args.values, 'from', issues, 'a version, a version prefix, or base');
  if (from !== undefined && args.values.sql !== true)
    issues.push({ path: '--from', message: 'only with --sql' });
  if (from !== undefined && /^[+-]/.test(from))
    issues.push({ path: '--from', message: 'must be a version, a version prefix, or base' });
  return from;
}

/** Run `sql()` and print the script (or, with `--json`, the result with its steps). */
export async function printScript(
  args: ParsedArgs,
  { io, output }: CommandContext,
  request: ScriptRequest,
  from: string | undefined,
  issues: readonly ConfigIssue[],
): Promise<number> {
  const offline = from !== undefined;
  // Offline, DATABASE_URL is not this command's business: not read, not required.
  const config = await resolveConfig(args, io, { database: !offline, issues });
  output.addSecrets(config.secrets);
  output.setMigrationsDir(config.dir);
  return withMigrator(
    config,
    io,
    output,
    async (migrator) => {
      const result = await migrator.sql({ ...request, from, signal: io.signal });
      output.result(result, () => [result.script.replace(/\n$/, '')]);
      return EXIT_OK;
    },
    { offline },
  );
}
