/** `offloop up`: apply pending migrations, or with `--sql` print the script that would. */
import { count, upOptionsSchema } from '@offloop/core';
import type { UpResult } from '@offloop/worker';
import type { z } from 'zod';
import { defineDatabaseCommand } from '../database-command.ts';
import {
  SCRIPT_FLAGS,
  readFrom,
  scriptRefusals,
  scriptRequest,
  type ScriptCarry,
} from '../flags/script-flags.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { optionFlags, readOptions } from '../flags/option-flags.ts';
import { formatDuration } from '../format.ts';

/** The flags of `up()`'s options, one per option. */
const UP_FLAGS = optionFlags(upOptionsSchema);

/** What `up --sql` does with each of `up()`'s options. */
export const UP_SCRIPT = {
  to: true,
  allowOutOfOrder: true,
  timeout: true,
  singleTransaction: 'not with --sql: the script has one transaction per migration',
  strict: 'not with --sql: the script is not linted (run offloop lint)',
} as const satisfies ScriptCarry<z.output<typeof upOptionsSchema>>;

/** `offloop up`: apply pending migrations through a migrator, progress on stderr, a summary on stdout. */
export const upCommand = defineDatabaseCommand({
  name: 'up',
  summary: 'Apply pending migrations, in order, each in its own transaction (--sql: print it)',
  usage: 'offloop up [options]',
  description:
    'Apply the pending migrations of the migrations directory, oldest first, in a worker thread. ' +
    'Each runs in its own transaction together with its row in the version table (a migration ' +
    'marked transaction:false runs its statements one at a time, outside one). One runner at a ' +
    'time holds the migration lock; others wait for it, up to --lock-timeout. The run stops at ' +
    'the first failure: that migration is rolled back, earlier ones stay applied. Edited, ' +
    'missing and out-of-order migrations are refused before anything runs, and every pending ' +
    'file is parsed first. Progress goes to stderr, the summary to stdout. With --sql nothing ' +
    'runs: the script is printed instead.',
  flags: { ...DATABASE_FLAGS, ...UP_FLAGS, ...SCRIPT_FLAGS },
  examples: [
    'offloop up',
    'offloop up --url postgres://app@db.internal:5432/app --lock-timeout 2m --timeout 10m',
    'offloop up --to 20260101120000 --json',
    'offloop up --sql --from base > release.sql',
  ],

  read(values, issues) {
    const args = readOptions(upOptionsSchema, UP_FLAGS, values, issues);
    const from = readFrom(values, issues);
    const sql = values.sql === true;
    if (sql) issues.push(...scriptRefusals(args, UP_SCRIPT));
    return { args, sql, from };
  },
  script: ({ args, sql, from }) => (sql ? scriptRequest('up', args, UP_SCRIPT, from) : undefined),
  call: (migrator, { args }, { signal, onProgress }) =>
    migrator.up({ ...args, signal, onProgress }),
  render: (result, { options, dir }) => [summary(result, options.args.to, dir)],
});

/** The one line `up` prints on stdout. */
function summary(result: UpResult, to: string | undefined, dir: string): string {
  if (result.applied.length > 0) {
    return (
      `Applied ${count(result.applied.length, 'migration')} in ` +
      `${formatDuration(result.durationMs)}; now at ${result.current ?? '?'}`
    );
  }
  if (result.current === null) return `Nothing to do: no migrations in ${dir}`;
  // Later migrations may be pending: say only what was asked.
  if (to !== undefined)
    return (
      `Nothing to do: everything up to ${to} is already applied; ` +
      `database is at ${result.current}`
    );
  return `Nothing to do: database is up to date at ${result.current}`;
}
