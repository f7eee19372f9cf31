/** `offloop current`: the newest applied migration. */
import { OUTPUT_FLAGS, unexpectedArguments, usageError } from '../args.ts';
import type { Command } from '../command.ts';
import { CONFIG_FILE_FLAGS, DATABASE_FLAGS, resolveConfig } from '../config.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { formatTimestamp } from '../format.ts';
import { withMigrator } from '../migrator.ts';

/** `offloop current`: one line, the version the database is at, or that nothing is applied. */
export const currentCommand: Command = {
  name: 'current',
  summary: 'Show the version the database is at',
  usage: 'offloop current [options]',
  description:
    'Print the newest applied migration: its version, name and when it was applied, or that nothing is applied. Reads ' +
    'only; takes no lock. In a script, use --json, or the first word of the output.',
  flags: { ...DATABASE_FLAGS, ...CONFIG_FILE_FLAGS, ...OUTPUT_FLAGS },
  examples: ['offloop current', 'offloop current --json | jq -r .current'],

  async run(args, { io, output }) {
    const unexpected = unexpectedArguments('current', args.positionals);
    if (unexpected.length > 0) throw usageError('current', unexpected, args);
    const config = await resolveConfig(args, io, { database: true });
    output.addSecrets(config.secrets);
    output.setMigrationsDir(config.dir);
    return withMigrator(config, io, output, async (migrator) => {
      const result = await migrator.current({ signal: io.signal });
      output.result(result, () => [
        result.current === null
          ? 'base (nothing applied)'
          : `${result.current} ${result.name ?? ''} (applied ${result.appliedAt === null ? '?' : formatTimestamp(result.appliedAt)})`,
      ]);
      return EXIT_OK;
    });
  },
};
