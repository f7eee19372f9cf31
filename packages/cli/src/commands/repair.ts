/** `offloop repair`: accept edited checksums, clear failed runs, and (with a flag) forget missing files. */
import { count, repairOptionsSchema, type RepairAction, type RepairResult } from '@offloop/core';
import { defineDatabaseCommand } from '../database-command.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { optionFlags, readOptions } from '../flags/option-flags.ts';

/** The flags of `repair()`'s options, one per option. */
const REPAIR_FLAGS = optionFlags(repairOptionsSchema);

/** `offloop repair [--dry-run] [--forget-missing]`. */
export const repairCommand = defineDatabaseCommand({
  name: 'repair',
  summary: 'Accept edited applied files, clear failed runs (--dry-run to look first)',
  usage: 'offloop repair [options]',
  description:
    'Bring the version table in line with the files after a deliberate change, without running ' +
    'any migration: accept the new checksum of every applied migration whose file was edited, ' +
    'and clear the failure of a non-transactional migration that stopped midway (after you ' +
    'finished or undid its work by hand) so that up runs it again. With --forget-missing, also ' +
    'forget applied migrations whose files are gone. Look first with --dry-run, which changes ' +
    'nothing and takes no lock. Every change is written to the log table.',
  flags: { ...DATABASE_FLAGS, ...REPAIR_FLAGS },
  examples: [
    'offloop repair --dry-run',
    'offloop repair',
    'offloop repair --forget-missing --dry-run',
  ],

  read: (values, issues) => readOptions(repairOptionsSchema, REPAIR_FLAGS, values, issues),
  call: (migrator, options, { signal }) => migrator.repair({ ...options, signal }),
  render: (result) => renderRepair(result),
});

/** What repair did (or would do), one line per change, then what it left alone. */
function renderRepair(result: RepairResult): string[] {
  const lines: string[] = [];
  if (result.actions.length === 0) lines.push('Nothing to repair.');
  else {
    const changes = count(result.actions.length, 'change');
    lines.push(
      result.dryRun ? `Would make ${changes} (dry run: nothing was changed):` : `Made ${changes}:`,
    );
  }
  for (const action of result.actions) lines.push(`  ${describeAction(action)}`);
  if (result.skippedMissing.length > 0) {
    lines.push(
      'Left alone: ' +
        `${count(result.skippedMissing.length, 'applied migration')} whose file is gone: ` +
        `${result.skippedMissing.join(', ')}.`,
      'Restore the files from version control, or forget them with offloop ' +
        'repair --forget-missing.',
    );
  }
  if (result.dryRun && result.actions.length > 0)
    lines.push('Run offloop repair without --dry-run to make these changes.');
  return lines;
}

function describeAction(action: RepairAction): string {
  switch (action.kind) {
    case 'accept-checksum':
      return (
        `accept the edited file ${action.file} (checksum ${action.from.slice(0, 12)}... -> ` +
        `${action.to.slice(0, 12)}...)`
      );
    case 'forget-missing':
      return `forget ${action.version}_${action.name}, whose file is gone`;
    case 'resolve-failed': {
      const ran =
        action.statementsRun === null
          ? ''
          : ` (${count(action.statementsRun, 'statement')} had run)`;
      return (
        `clear the failed ${action.direction} of ${action.file}${ran}, ` +
        `so that the next ${action.direction} runs it again`
      );
    }
  }
}
