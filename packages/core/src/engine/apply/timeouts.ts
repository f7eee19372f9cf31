/**
 * The session's settings a non-transactional migration sets for itself (its timeouts, and with
 * `lockUrl` its `search_path`), read before it and restored after it.
 */
import type { Db } from '../db/db.ts';
import { sql } from '../db/sql.ts';

/** What {@link currentSettings} reads. */
export type SessionSettings = {
  readonly lockTimeout: string;
  readonly statementTimeout: string;
  readonly searchPath: string;
};

/** The session's `lock_timeout`, `statement_timeout` and `search_path` now, as `current_setting` gives them. */
export async function currentSettings(connection: Db): Promise<SessionSettings> {
  const row = await connection.one<{
    lock_timeout: string;
    statement_timeout: string;
    search_path: string;
  }>(sql`
    select current_setting('lock_timeout') as lock_timeout,
      current_setting('statement_timeout') as statement_timeout,
      current_setting('search_path') as search_path`);
  return {
    lockTimeout: row.lock_timeout,
    statementTimeout: row.statement_timeout,
    searchPath: row.search_path,
  };
}

/** Restore the session's settings (after a non-transactional migration set its own); never throws. */
export async function restoreSettings(connection: Db, saved: SessionSettings): Promise<void> {
  await connection
    .run(
      sql`
        select set_config('lock_timeout', ${saved.lockTimeout}, false),
          set_config('statement_timeout', ${saved.statementTimeout}, false),
          set_config('search_path', ${saved.searchPath}, false)`,
    )
    .catch(() => undefined);
}
