/** `offloop redo`: revert the last applied migrations and apply them again. */
import type { ConfigIssue } from '@offloop/core';
import { OUTPUT_FLAGS, unexpectedArguments, usageError } from '../args.ts';
import type { Command } from '../command.ts';
import { CONFIG_FILE_FLAGS, DATABASE_FLAGS, RUN_FLAGS, resolveConfig } from '../config.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { count, formatDuration } from '../format.ts';
import { withMigrator } from '../migrator.ts';
import { readStep, readTimeout } from '../targets.ts';

/** `offloop redo`: down then up again, for the last applied migration or `--step N` of them, under one lock. */
export const redoCommand: Command = {
  name: 'redo',
  summary: 'Revert the last applied migration (or --step N) and apply it again',
  usage: 'offloop redo [options]',
  description:
    'Revert the last applied migration (or the last N with --step N, in the order down takes) and apply it again, under one migration lock: ' +
    'for iterating on a migration under development. Both directions are checked and parsed before anything runs.',
  flags: {
    ...DATABASE_FLAGS,
    step: {
      type: 'string',
      placeholder: 'n',
      description: 'Redo the last N applied migrations; more than are applied is refused',
      default: '1',
    },
    ...RUN_FLAGS,
    ...CONFIG_FILE_FLAGS,
    ...OUTPUT_FLAGS,
  },
  examples: ['offloop redo', 'offloop redo --step 2 --json'],

  async run(args, { io, output }) {
    const unexpected = unexpectedArguments('redo', args.positionals);
    if (unexpected.length > 0) throw usageError('redo', unexpected, args);
    const issues: ConfigIssue[] = [];
    const step = readStep(args.values, issues);
    const timeout = readTimeout(args.values, issues);
    const config = await resolveConfig(args, io, { database: true, issues });
    output.addSecrets(config.secrets);
    output.setMigrationsDir(config.dir);
    return withMigrator(config, io, output, async (migrator) => {
      const result = await migrator.redo({
        step,
        timeout,
        signal: io.signal,
        onProgress: (event) => output.progress(event),
      });
      output.result(result, () => [
        result.reverted.length === 0
          ? 'Nothing to redo: nothing is applied'
          : `Reverted and re-applied ${count(result.applied.length, 'migration')} (${result.applied.map((m) => m.version).join(', ')}) in ${formatDuration(result.durationMs)}; now at ${result.current ?? '?'}`,
      ]);
      return EXIT_OK;
    });
  },
};
