/** `offloop current`: the newest applied migration. */
import { defineDatabaseCommand } from '../database-command.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { formatTimestamp } from '../format.ts';

/** `offloop current`: one line, the version the database is at, or that nothing is applied. */
export const currentCommand = defineDatabaseCommand({
  name: 'current',
  summary: 'Show the version the database is at',
  usage: 'offloop current [options]',
  description:
    'Print the newest applied migration: its version, name and when it was applied, or that ' +
    'nothing is applied. Reads only; takes no lock. In a script, use --json, or the first word ' +
    'of the output.',
  flags: DATABASE_FLAGS,
  examples: ['offloop current', 'offloop current --json | jq -r .current'],

  read: () => ({}),
  call: (migrator, _options, { signal }) => migrator.current({ signal }),
  render: (result) => [
    result.current === null
      ? 'base (nothing applied)'
      : `${result.current} ${result.name ?? ''} ` +
        `(applied ${result.appliedAt === null ? '?' : formatTimestamp(result.appliedAt)})`,
  ],
});
