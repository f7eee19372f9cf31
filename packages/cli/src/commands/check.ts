/** `offloop check`: exit 0 only when every migration is applied and nothing is wrong; for CI gates. */
import { checkOptionsSchema, count } from '@offloop/core';
import { defineDatabaseCommand } from '../database-command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { optionFlags, readOptions } from '../flags/option-flags.ts';

/** The flags of `check()`'s options but `timeout`: no read-only command has `--timeout`. */
const CHECK_FLAGS = optionFlags(checkOptionsSchema, ['timeout']);

/** `offloop check`: the typed reason, and its exit code, when the database is not exactly up to date. */
export const checkCommand = defineDatabaseCommand({
  name: 'check',
  summary: 'Exit 0 when everything is applied and consistent, else say why (for CI)',
  usage: 'offloop check [options]',
  description:
    'Check that every migration is applied and that the files and the version table agree. Exits ' +
    '0 when they do. Otherwise prints the reason and what to do, and exits ' +
    `${EXIT_CODES.CHECKSUM_MISMATCH} when an applied file was edited or is gone, a pending ` +
    'migration is older than the newest applied one, or a non-transactional migration failed ' +
    `midway; or ${EXIT_CODES.MIGRATIONS_PENDING} when migrations are merely pending. Reads only: ` +
    'takes no lock, creates nothing. For CI gates and readiness probes.',
  flags: { ...DATABASE_FLAGS, ...CHECK_FLAGS },
  examples: ['offloop check', 'offloop check --json', 'offloop check || exit 1'],

  read: (values, issues) => readOptions(checkOptionsSchema, CHECK_FLAGS, values, issues),
  call: (migrator, options, { signal }) => migrator.check({ ...options, signal }),
  render: (result) => [
    result.current === null
      ? 'OK: no migrations, nothing applied.'
      : `OK: ${count(result.applied, 'migration')} applied, none pending; ` +
        `database is at ${result.current}.`,
  ],
});
