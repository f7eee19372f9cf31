/** `offloop redo`: revert the last applied migrations and apply them again. */
import { count, redoOptionsSchema } from '@offloop/core';
import { defineDatabaseCommand } from '../database-command.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { optionFlags, readOptions } from '../flags/option-flags.ts';
import { formatDuration } from '../format.ts';

/** The flags of `redo()`'s options, one per option. */
const REDO_FLAGS = optionFlags(redoOptionsSchema);

/** `offloop redo`: down then up again, for the last applied migration or `--step N` of them, under one lock. */
export const redoCommand = defineDatabaseCommand({
  name: 'redo',
  summary: 'Revert the last applied migration (or --step N) and apply it again',
  usage: 'offloop redo [options]',
  description:
    'Revert the last applied migration (or the last N with --step N, in the order down takes) ' +
    'and apply it again, under one migration lock: for iterating on a migration under ' +
    'development. Both directions are checked and parsed before anything runs.',
  flags: { ...DATABASE_FLAGS, ...REDO_FLAGS },
  examples: ['offloop redo', 'offloop redo --step 2 --json'],

  read: (values, issues) => readOptions(redoOptionsSchema, REDO_FLAGS, values, issues),
  call: (migrator, options, { signal, onProgress }) =>
    migrator.redo({ ...options, signal, onProgress }),
  render: (result) => [
    result.reverted.length === 0
      ? 'Nothing to redo: nothing is applied'
      : `Reverted and re-applied ${count(result.applied.length, 'migration')} ` +
        `(${result.applied.map((m) => m.version).join(', ')}) in ` +
        `${formatDuration(result.durationMs)}; now at ${result.current ?? '?'}`,
  ],
});
