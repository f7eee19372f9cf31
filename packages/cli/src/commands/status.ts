/** `offloop status`: applied and pending migrations, and what stops `up`. */
import { count, type PlanProblem } from '@offloop/core';
import type { StatusResult } from '@offloop/worker';
import { defineDatabaseCommand } from '../database-command.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { formatTimestamp, table } from '../format.ts';
import type { CommandDatabase } from '../with-migrator.ts';

/** `offloop status`: the migrations on disk against the version table, as a table or one JSON document. */
export const statusCommand = defineDatabaseCommand({
  name: 'status',
  summary: 'Show applied and pending migrations, and what in the ledger stops up',
  usage: 'offloop status [options]',
  description:
    'Compare the migrations directory with the version table and list every migration: applied ' +
    '(with when) or pending. Flags the problems that make up refuse to run: applied migrations ' +
    'whose file changed or is gone, and pending migrations older than the newest applied one. ' +
    'It does not parse or lint the pending files (offloop check and offloop lint do). Reads ' +
    'only; takes no lock. Exits 0 when the status could be read, problems or not; use --json ' +
    'to inspect them in a script.',
  flags: DATABASE_FLAGS,
  examples: ['offloop status', 'offloop status --json | jq ".pending | length"'],

  read: () => ({}),
  call: (migrator, _options, { signal }) => migrator.status({ signal }),
  render: (result, { database, dir, versionTable }) =>
    renderStatus(result, { database, dir, table: versionTable }),
});

type StatusContext = {
  readonly database: CommandDatabase;
  readonly dir: string;
  readonly table: string;
};

/** The human status: where, a table of migrations, and a summary line. */
function renderStatus(result: StatusResult, context: StatusContext): string[] {
  const lines = [
    `Database:   ${context.database.description}`,
    `Migrations: ${context.dir} (version table ${context.table})`,
    '',
  ];
  const problems = new Map<string, PlanProblem>(
    result.problems.map((problem) => [problem.version, problem]),
  );
  const rows = statusRows(result);

  if (!result.initialized)
    lines.push(`The version table ${context.table} does not exist yet: nothing is applied.`);
  if (rows.length === 0) {
    lines.push(`No migrations in ${context.dir}. Create one with: offloop create <name>`);
    return lines;
  }
  if (!result.initialized) lines.push('');
  const cells = rows.map((row) => {
    const problem = problems.get(row.version);
    return [
      row.version,
      row.name,
      row.state,
      row.at,
      problem === undefined ? '' : `! ${describeProblem(problem)}`,
    ];
  });
  lines.push(
    ...table([
      ['VERSION', 'NAME', 'STATE', 'APPLIED AT', result.problems.length > 0 ? 'PROBLEM' : ''],
      ...cells,
    ]),
    '',
  );

  const where = result.current === null ? 'nothing applied yet' : `now at ${result.current}`;
  lines.push(`${result.applied.length} applied, ${result.pending.length} pending; ${where}.`);
  if (result.problems.length > 0) lines.push(problemsLine(result.problems));
  return lines;
}

/** One row per migration, by version: applied, pending, and failed runs of files gone since. */
function statusRows(
  result: StatusResult,
): { version: string; name: string; state: string; at: string }[] {
  return [
    ...result.applied.map((row) => ({
      version: row.version,
      name: row.name,
      state: 'applied',
      at: formatTimestamp(row.appliedAt),
    })),
    ...result.pending.map((row) => ({
      version: row.version,
      name: row.name,
      state: 'pending',
      at: '',
    })),
    // A failed run of a migration that is neither applied nor on disk any more.
    ...result.problems
      .filter(
        (problem) =>
          problem.kind === 'failed' &&
          problem.fileMissing &&
          !result.applied.some((row) => row.version === problem.version),
      )
      .map((problem) => ({
        version: problem.version,
        name: problem.kind === 'failed' ? problem.file.slice(15) : '',
        state: 'failed',
        at: '',
      })),
  ].sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

/** What the problems stop: `check` only (a failed run of a changed or missing file), or `up`. */
function problemsLine(problems: readonly PlanProblem[]): string {
  const blocking = problems.filter(
    (problem) => problem.kind !== 'failed' || !(problem.fileChanged || problem.fileMissing),
  ).length;
  const them = problems.length === 1 ? 'it is' : 'they are';
  return blocking === 0
    ? `${count(problems.length, 'problem')}: offloop check fails until ${them} resolved.`
    : `${count(problems.length, 'problem')}: offloop up refuses to run until ${them} resolved ` +
        '(offloop check explains each).';
}

function describeProblem(problem: PlanProblem): string {
  switch (problem.kind) {
    case 'missing':
      return 'applied, but its file is gone';
    case 'changed':
      return 'file changed since it was applied';
    case 'out-of-order':
      return `older than the newest applied migration (${problem.newestApplied})`;
    case 'failed': {
      const ran = problem.statementsRun;
      const after = ran === null || ran === 0 ? '' : ` after ${count(ran, 'statement')}`;
      const what = problem.interrupted
        ? `${problem.direction} started on ${formatTimestamp(problem.at)} and never finished`
        : `${problem.direction} failed midway on ${formatTimestamp(problem.at)}${after}`;
      const next = problem.fileMissing
        ? 'the file is gone: offloop repair clears it'
        : problem.fileChanged
          ? 'the file changed since, and the next run tries it again'
          : `offloop ${problem.direction} explains how to resolve it`;
      return `${what} (not transactional: part of it may be in the database); ${next}`;
    }
  }
}
