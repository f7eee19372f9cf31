/** `offloop lint`: the statements of the migrations that would lock or break a running application. */
import { lintOptionsSchema } from '@offloop/core';
import { defineDatabaseCommand } from '../database-command.ts';
import { EXIT_CODES, EXIT_OK } from '../exit-codes.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { optionFlags, readOptions } from '../flags/option-flags.ts';
import { lintSummary, renderFindings } from '../output/lint.ts';

/** The flags of `lint()`'s options but `timeout`: no read-only command has `--timeout`. */
const LINT_FLAGS = optionFlags(lintOptionsSchema, ['timeout']);

/** `offloop lint`: findings with their code frames, a summary, and a failing exit code on errors. */
export const lintCommand = defineDatabaseCommand({
  name: 'lint',
  summary: 'Find statements that would lock or break a running application (docs/lint.md)',
  usage: 'offloop lint [options]',
  description:
    "Lint the SQL migrations with PostgreSQL's own parser: index builds and constraints that " +
    'lock a table while they scan it, table rewrites, renames and drops the running ' +
    'application still uses, and more (every rule, with its safe way, is in docs/lint.md). ' +
    'Prints each finding as file:line:column, the rule id, its severity and message, the line ' +
    'with a caret and the safe way, then a summary. Connected to a database, it lints the ' +
    "pending migrations (--all: every one), assumes the server's version and grades each " +
    'finding by the size of its table: a note for a small table, an error for a big one. With ' +
    'no database named (or --offline) it lints every migration and starts nothing. Silence a ' +
    'finding with "-- offloop-lint-ignore <rule> <reason>" before the statement or above the ' +
    'marker line, or per rule with the lint option. Exits ' +
    `${EXIT_CODES.LINT_FAILED} when a finding is an error (--strict: or a warning). Reads only.`,
  flags: { ...DATABASE_FLAGS, ...LINT_FLAGS },
  examples: [
    'offloop lint',
    'offloop lint --offline --postgres-version 11',
    'offloop lint --all --strict --json',
  ],

  read: (values, issues) => readOptions(lintOptionsSchema, LINT_FLAGS, values, issues),
  offline: (options) => (options.offline === true ? true : 'without-database'),
  call: (migrator, options, { signal, offline }) =>
    migrator.lint({ ...options, offline: options.offline === true || offline, signal }),
  render: (result, { config, cwd }) => [
    ...renderFindings(result.findings, { cwd, migrationsDir: config.dir }),
    lintSummary(result),
  ],
  exitCode: (result) => (result.failed ? EXIT_CODES.LINT_FAILED : EXIT_OK),
});
