/** `offloop down`: revert applied migrations, the last applied first, or with `--sql` print the script that would. */
import type { ConfigIssue, MigrationResult } from '@offloop/core';
import { OUTPUT_FLAGS, unexpectedArguments, usageError } from '../args.ts';
import type { Command } from '../command.ts';
import { CONFIG_FILE_FLAGS, DATABASE_FLAGS, RUN_FLAGS, resolveConfig } from '../config.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { NBSP, count, formatDuration } from '../format.ts';
import { withMigrator } from '../migrator.ts';
import { SCRIPT_FLAGS, printScript, readFrom } from '../script.ts';
import { exclusive, readDirectedTarget, readStep, readTimeout } from '../targets.ts';

/** `offloop down`: one step by default, `--step N`, or everything applied after `--to`. */
export const downCommand: Command = {
  name: 'down',
  summary: 'Revert the last applied migration, --step N of them, or all after --to',
  usage: 'offloop down [options]',
  description:
    `Revert applied migrations in the reverse of the order they were applied, by running their down sections ("--${NBSP}migrate:down", ` +
    'or a down export): the last applied one by default, the last N with --step N, or every migration applied after a ' +
    'version with --to (which stays applied; --to base reverts them all, --to -2 the last two). After an out-of-order ' +
    'apply, the last applied is not the newest version: it goes first. A --step or -N past the applied migrations, or a ' +
    '--to version that is not applied, is refused. Every migration to revert is checked for a down section, an unchanged ' +
    'file and a parseable body before anything runs. Each runs in its own transaction with the removal of its version ' +
    'row, under the migration lock. With --sql nothing runs: the script is printed instead.',
  flags: {
    ...DATABASE_FLAGS,
    step: {
      type: 'string',
      placeholder: 'n',
      description: 'Revert the last N applied migrations; more than are applied is refused',
      default: '1',
    },
    to: {
      type: 'string',
      placeholder: 'target',
      description:
        'Revert every migration applied after this applied version or version prefix (it stays applied); base reverts all, -N the last N',
    },
    ...RUN_FLAGS,
    ...SCRIPT_FLAGS,
    ...CONFIG_FILE_FLAGS,
    ...OUTPUT_FLAGS,
  },
  examples: [
    'offloop down',
    'offloop down --step 3',
    'offloop down --to 20260101120000',
    'offloop down --to base --sql > rollback.sql',
  ],

  async run(args, context) {
    const { io, output } = context;
    const unexpected = unexpectedArguments('down', args.positionals);
    if (unexpected.length > 0) throw usageError('down', unexpected, args);
    const issues: ConfigIssue[] = [];
    const step = readStep(args.values, issues);
    const to = readDirectedTarget(args.values, 'down', issues);
    exclusive(args.values, 'step', 'to', issues);
    const timeout = readTimeout(args.values, issues);
    const from = readFrom(args, issues);
    if (args.values.sql === true) {
      return printScript(
        args,
        context,
        { direction: 'down', to, step, allowOutOfOrder: undefined, timeout },
        from,
        issues,
      );
    }
    const config = await resolveConfig(args, io, { database: true, issues });
    output.addSecrets(config.secrets);
    output.setMigrationsDir(config.dir);
    return withMigrator(config, io, output, async (migrator) => {
      const result = await migrator.down({
        step,
        to,
        timeout,
        signal: io.signal,
        onProgress: (event) => output.progress(event),
      });
      output.result(result, () => [
        revertedSummary(result.reverted, result.durationMs, result.current),
      ]);
      return EXIT_OK;
    });
  },
};

/** `Reverted 2 migrations in 40 ms; now at 20260101000000`. */
export function revertedSummary(
  reverted: readonly MigrationResult[],
  durationMs: number,
  current: string | null,
): string {
  const now = current === null ? 'nothing is applied now' : `now at ${current}`;
  if (reverted.length === 0)
    return `Nothing to revert; ${current === null ? 'nothing is applied' : `database is at ${current}`}`;
  return `Reverted ${count(reverted.length, 'migration')} (${reverted.map((m) => m.version).join(', ')}) in ${formatDuration(durationMs)}; ${now}`;
}
