import type { Db } from '../db/db.ts';
import type { ResolvedConfig } from '../../config/config.ts';
import type { OperationArgs } from '../../config/operation-options.ts';
import type { RepairAction, RepairResult } from '../../model/results.ts';
import { namesByVersion, repairActions } from '../../plan/repair.ts';
import { versionTableOf } from '../../sql/ddl.ts';
import { appendLog, type LogRow } from '../ledger/log-table.ts';
import { deleteApplied, updateChecksum } from '../ledger/version-table.ts';
import { withReadOnly, withSession, type EngineOptions } from '../session.ts';

/**
 * Accept the checksums of edited applied migrations, clear failed non-transactional runs so
 * they run again, and (with `forgetMissing`) forget applied migrations whose files are gone.
 * `dryRun` reports the same actions and changes nothing (and takes no lock).
 */
export async function repair(
  config: ResolvedConfig,
  options: EngineOptions & OperationArgs<'repair'> = {},
): Promise<RepairResult> {
  const forgetMissing = options.forgetMissing === true;
  if (options.dryRun === true) {
    return withReadOnly(config, 'repair', options, (state) => ({
      dryRun: true,
      ...repairActions(state, forgetMissing),
    }));
  }
  return withSession(config, 'repair', options, async (session) => {
    const { actions, skippedMissing } = repairActions(session.state, forgetMissing);
    const names = namesByVersion(session.state);
    if (actions.length > 0) await session.ensureTables();
    await session.work.transaction(async (transaction) => {
      for (const action of actions) {
        await perform(transaction, config, action, {
          name: names.get(action.version) ?? '',
          appliedBy: session.apply.appliedBy,
        });
      }
    });
    return { dryRun: false, actions, skippedMissing };
  });
}

/** One repair action: the change to the version table, if any, and its log entry. */
async function perform(
  transaction: Db,
  config: ResolvedConfig,
  action: RepairAction,
  { name, appliedBy }: { name: string; appliedBy: string },
): Promise<void> {
  const logged = { version: action.version, name, outcome: 'succeeded', appliedBy } as const;
  const entry: LogRow =
    action.kind === 'accept-checksum'
      ? {
          ...logged,
          direction: 'repair-checksum',
          checksum: action.to,
          durationMs: null,
          error: `checksum was ${action.from}`,
          statementsRun: null,
        }
      : action.kind === 'forget-missing'
        ? {
            ...logged,
            direction: 'repair-forget',
            checksum: null,
            durationMs: null,
            error: null,
            statementsRun: null,
          }
        : {
            ...logged,
            direction: 'repair-resolve',
            checksum: null,
            durationMs: null,
            error: null,
            statementsRun: action.statementsRun,
          };
  if (action.kind === 'accept-checksum')
    await updateChecksum(transaction, versionTableOf(config), action.version, action.to);
  else if (action.kind === 'forget-missing')
    await deleteApplied(transaction, versionTableOf(config), action.version);
  await appendLog(transaction, versionTableOf(config), entry);
}
