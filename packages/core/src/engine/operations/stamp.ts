import type { ResolvedConfig } from '../../config/config.ts';
import type { OperationArgs } from '../../config/operation-options.ts';
import type { StampResult } from '../../model/results.ts';
import { planStamp } from '../../plan/stamp.ts';
import { appendLog } from '../ledger/log-table.ts';
import { deleteApplied, insertApplied } from '../ledger/version-table.ts';
import { withSession, type EngineOptions } from '../session.ts';

/**
 * Record the database as being at `to` without running anything: files up to it become applied,
 * applied migrations after it are forgotten. `base` forgets everything. Logged as `stamp` and
 * `unstamp`. For adopting an existing database.
 */
export async function stamp(
  config: ResolvedConfig,
  options: EngineOptions & OperationArgs<'stamp'>,
): Promise<StampResult> {
  return withSession(config, 'stamp', options, async (session) => {
    const { toStamp, toForget, current } = planStamp(session.state, options.to);
    const appliedBy = session.apply.appliedBy;
    const logged = { outcome: 'succeeded', appliedBy, durationMs: null, error: null } as const;
    if (toStamp.length + toForget.length > 0) await session.ensureTables();
    await session.work.transaction(async (transaction) => {
      for (const file of toStamp) {
        await insertApplied(transaction, session.apply.versionTable, {
          version: file.version,
          name: file.name,
          checksum: file.checksum,
          durationMs: 0,
          appliedBy,
        });
        await appendLog(transaction, session.apply.versionTable, {
          ...logged,
          version: file.version,
          name: file.name,
          direction: 'stamp',
          checksum: file.checksum,
          statementsRun: null,
        });
      }
      for (const row of toForget) {
        await deleteApplied(transaction, session.apply.versionTable, row.version);
        await appendLog(transaction, session.apply.versionTable, {
          ...logged,
          version: row.version,
          name: row.name,
          direction: 'unstamp',
          checksum: row.checksum,
          statementsRun: null,
        });
      }
    });
    return {
      stamped: toStamp.map((file) => file.version),
      unstamped: toForget.map((row) => row.version),
      current,
    };
  });
}
