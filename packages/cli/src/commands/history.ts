/** `offloop history`: applied migrations newest first, or with `--log` everything that happened. */
import { count, type AppliedStatus, type LogEntry } from '@offloop/core';
import { defineDatabaseCommand } from '../database-command.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { formatDuration, formatTimestamp, table } from '../format.ts';

/** `offloop history`: what is applied, when, by whom and how long it took; `--log` for the log table. */
export const historyCommand = defineDatabaseCommand({
  name: 'history',
  summary: 'Show applied migrations, newest first; --log: every up, down, stamp, repair',
  usage: 'offloop history [options]',
  description:
    'List the applied migrations, newest first, with when they were applied, by whom and how ' +
    'long they took. With --log, list the log table instead, newest first: every up, down, ' +
    'stamp, unstamp and repair, with its outcome (succeeded, failed, or partial for a ' +
    'non-transactional migration that failed midway) and the error of a failure. The version ' +
    'table says what is applied; the log says what happened. Reads only; takes no lock.',
  flags: {
    ...DATABASE_FLAGS,
    log: {
      type: 'boolean',
      description: 'Show the log table: everything that happened, failures included',
    },
  },
  examples: [
    'offloop history',
    'offloop history --log',
    'offloop history --json | jq ".applied[0]"',
  ],

  read: (values) => ({ log: values.log === true }),
  call: (migrator, _options, { signal }) => migrator.history({ signal }),
  render: (result, { options }) =>
    options.log ? renderLog(result.log) : renderApplied(result.applied, result.log),
});

/** The applied migrations as a table, newest first. */
function renderApplied(applied: readonly AppliedStatus[], log: readonly LogEntry[] = []): string[] {
  if (applied.length === 0) return ['No migrations applied yet.'];
  // Recorded by `stamp`, not run: the newest entry that put it in the version table says which.
  const stamped = new Set<string>();
  const seen = new Set<string>();
  for (const entry of log) {
    if (
      seen.has(entry.version) ||
      entry.outcome !== 'succeeded' ||
      (entry.direction !== 'up' && entry.direction !== 'stamp')
    )
      continue;
    seen.add(entry.version);
    if (entry.direction === 'stamp') stamped.add(entry.version);
  }
  const rows = applied.map((row) => [
    row.version,
    row.name,
    formatTimestamp(row.appliedAt),
    row.appliedBy,
    stamped.has(row.version) ? 'stamped' : formatDuration(row.durationMs),
    row.file === null ? '! file missing' : '',
  ]);
  return table([['VERSION', 'NAME', 'APPLIED AT', 'BY', 'TOOK', ''], ...rows]);
}

/** The log table, newest first. */
function renderLog(log: readonly LogEntry[]): string[] {
  if (log.length === 0)
    return ['The log is empty: nothing has been applied, reverted, stamped or repaired yet.'];
  const rows = log.map((entry) => [
    formatTimestamp(entry.at),
    entry.direction,
    entry.version,
    entry.name,
    entry.outcome,
    entry.appliedBy,
    entry.durationMs === null ? '' : formatDuration(entry.durationMs),
    note(entry),
  ]);
  return table([['AT', 'ACTION', 'VERSION', 'NAME', 'OUTCOME', 'BY', 'TOOK', 'NOTE'], ...rows]);
}

function note(entry: LogEntry): string {
  const ran =
    entry.statementsRun === null ? null : `${count(entry.statementsRun, 'statement')} ran`;
  return [ran, entry.error]
    .filter((part): part is string => part !== null && part !== '')
    .join('; ');
}
