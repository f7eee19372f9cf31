/** `offloop down`: revert applied migrations, the last applied first, or with `--sql` print the script that would. */
import { count, downOptionsSchema, type MigrationResult } from '@offloop/core';
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
import { NBSP, formatDuration } from '../format.ts';

/** The flags of `down()`'s options, one per option. */
const DOWN_FLAGS = optionFlags(downOptionsSchema);

/** What `down --sql` does with each of `down()`'s options: it carries them all. */
export const DOWN_SCRIPT = {
  step: true,
  to: true,
  timeout: true,
} as const satisfies ScriptCarry<z.output<typeof downOptionsSchema>>;

/** `offloop down`: one step by default, `--step N`, or everything applied after `--to`. */
export const downCommand = defineDatabaseCommand({
  name: 'down',
  summary: 'Revert the last applied migration, --step N of them, or all after --to',
  usage: 'offloop down [options]',
  description:
    'Revert applied migrations in the reverse of the order they were applied, by running their ' +
    `down sections ("--${NBSP}migrate:down", or a down export): the last applied one by default, ` +
    'the last N with --step N, or every migration applied after a version with --to (which stays ' +
    'applied; --to base reverts them all, --to -2 the last two). After an out-of-order apply, ' +
    'the last applied is not the newest version: it goes first. A --step or -N past the applied ' +
    'migrations, or a --to version that is not applied, is refused. Every migration to revert is ' +
    'checked for a down section, an unchanged file and a parseable body before anything runs. ' +
    'Each runs in its own transaction with the removal of its version row, under the migration ' +
    'lock. With --sql nothing runs: the script is printed instead.',
  flags: { ...DATABASE_FLAGS, ...DOWN_FLAGS, ...SCRIPT_FLAGS },
  examples: [
    'offloop down',
    'offloop down --step 3',
    'offloop down --to 20260101120000',
    'offloop down --to base --sql > rollback.sql',
  ],

  read(values, issues) {
    const args = readOptions(downOptionsSchema, DOWN_FLAGS, values, issues);
    const from = readFrom(values, issues);
    const sql = values.sql === true;
    if (sql) issues.push(...scriptRefusals(args, DOWN_SCRIPT));
    return { args, sql, from };
  },
  script: ({ args, sql, from }) =>
    sql ? scriptRequest('down', args, DOWN_SCRIPT, from) : undefined,
  call: (migrator, { args }, { signal, onProgress }) =>
    migrator.down({ ...args, signal, onProgress }),
  render: (result) => [revertedSummary(result.reverted, result.durationMs, result.current)],
});

/** `Reverted 2 migrations in 40 ms; now at 20260101000000`. */
function revertedSummary(
  reverted: readonly MigrationResult[],
  durationMs: number,
  current: string | null,
): string {
  const now = current === null ? 'nothing is applied now' : `now at ${current}`;
  if (reverted.length === 0)
    return current === null
      ? 'Nothing to revert; nothing is applied'
      : `Nothing to revert; database is at ${current}`;
  return (
    `Reverted ${count(reverted.length, 'migration')} ` +
    `(${reverted.map((m) => m.version).join(', ')}) in ${formatDuration(durationMs)}; ${now}`
  );
}
