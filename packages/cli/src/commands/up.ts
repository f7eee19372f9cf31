/** `offloop up`: apply pending migrations. */
import { VERSION_PATTERN, type ConfigIssue } from '@offloop/core';
import type { UpResult } from '@offloop/worker';
import { OUTPUT_FLAGS, unexpectedArguments, usageError } from '../args.ts';
import type { Command } from '../command.ts';
import { CONFIG_FILE_FLAGS, DATABASE_FLAGS, displayPath, resolveConfig } from '../config.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { count, formatDuration } from '../format.ts';
import { withMigrator } from '../migrator.ts';

/** `offloop up`: apply pending migrations through a migrator, progress on stderr, a summary on stdout. */
export const upCommand: Command = {
  name: 'up',
  summary: 'Apply pending migrations, in order, each in its own transaction',
  usage: 'offloop up [options]',
  description:
    'Apply the pending migrations of the migrations directory, oldest first, in a worker thread. Each runs in its own ' +
    'transaction together with its row in the version table. One runner at a time holds the migration lock; others ' +
    'wait for it, up to --lock-timeout. The run stops at the first failure: that migration is rolled back, earlier ' +
    'ones stay applied. Edited, missing and out-of-order migrations are refused before anything runs. Progress goes ' +
    'to stderr, the summary to stdout.',
  flags: {
    ...DATABASE_FLAGS,
    to: { type: 'string', placeholder: 'version', description: 'Apply pending migrations up to and including this version (default: all)' },
    ...CONFIG_FILE_FLAGS,
    ...OUTPUT_FLAGS,
  },
  examples: ['offloop up', 'offloop up --url postgres://app@db.internal:5432/app --lock-timeout 2m', 'offloop up --to 20260101120000 --json'],

  async run(args, { io, output }) {
    const unexpected = unexpectedArguments('up', args.positionals);
    if (unexpected.length > 0) throw usageError('up', unexpected, args);
    const to = typeof args.values.to === 'string' ? args.values.to : undefined;
    const issues: ConfigIssue[] = [];
    if (to !== undefined && !VERSION_PATTERN.test(to)) issues.push({ path: '--to', message: 'must be a 14-digit version (YYYYMMDDHHMMSS)' });
    const config = await resolveConfig(args, io, { database: true, issues });
    output.addSecrets(config.secrets);
    output.setMigrationsDir(config.dir);
    return withMigrator(config, io, output, async (migrator) => {
      const result = await migrator.up({ to, signal: io.signal, onProgress: (event) => output.progress(event) });
      output.result(result, () => [summary(result, to, displayPath(config.dir, io.cwd))]);
      return EXIT_OK;
    });
  },
};

/** The one line `up` prints on stdout. */
export function summary(result: UpResult, to: string | undefined, dir: string): string {
  if (result.applied.length > 0) {
    return `Applied ${count(result.applied.length, 'migration')} in ${formatDuration(result.durationMs)}; now at ${result.current ?? '?'}`;
  }
  if (result.current === null) return `Nothing to do: no migrations in ${dir}`;
  if (to !== undefined && to < result.current) return `Nothing to do: ${to} is already applied; database is at ${result.current}`;
  return `Nothing to do: database is up to date at ${result.current}`;
}
