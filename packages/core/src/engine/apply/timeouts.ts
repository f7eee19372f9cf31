/** The session's timeouts, read and restored around a migration that sets its own. */
import type { Db } from '../db/db.ts';
import { sql } from '../db/sql.ts';

/** The session's `lock_timeout` and `statement_timeout` now, as `current_setting` gives them. */
export async function currentTimeouts(
  connection: Db,
): Promise<{ readonly lockTimeout: string; readonly statementTimeout: string }> {
  const row = await connection.one<{ lock_timeout: string; statement_timeout: string }>(sql`
    select current_setting('lock_timeout') as lock_timeout,
      current_setting('statement_timeout') as statement_timeout`);
  return { lockTimeout: row.lock_timeout, statementTimeout: row.statement_timeout };
}

/** Restore the session's timeouts (after a non-transactional migration set its own); never throws. */
export async function restoreTimeouts(
  connection: Db,
  saved: { readonly lockTimeout: string; readonly statementTimeout: string },
): Promise<void> {
  await connection
    .run(
      sql`
        select set_config('lock_timeout', ${saved.lockTimeout}, false),
          set_config('statement_timeout', ${saved.statementTimeout}, false)`,
    )
    .catch(() => undefined);
}
