/**
 * Session setup of the connections that run migration work, once the run holds the run lock
 * (see `lock.ts` for why):
 *
 * - the **work lock**, `pg_advisory_lock_shared` on the version table's work key, held until the
 *   connection closes: the next runner finds it in `pg_locks` if this runner dies or loses the
 *   run lock while its statements still run, and ends those backends before it starts;
 * - `client_connection_check_interval` (PostgreSQL 14+): a backend whose client is gone aborts
 *   its statement within a second instead of running it to its end and committing;
 * - the `search_path` migrations run with (`searchPathFor`: the configured `schema` first).
 *
 * All are session state: `DISCARD ALL` drops them, so a session that is reset takes them again
 * (`db/work-connection.ts`, `db/module-pool.ts`).
 */
import { setSearchPath } from '../../sql/settings.ts';

/** How often a busy backend checks that its client is still there (PostgreSQL 14+). */
const CLIENT_CHECK_INTERVAL = '1s';

/**
 * The statement that sets a work session up: takes the shared work lock `workKey` (a bigint as
 * decimal text), sets `searchPath` and, on PostgreSQL 14+, the client check interval. One round
 * trip.
 */
export function workSessionSetup(workKey: string, searchPath: string): string {
  // The key is a decimal integer computed by offloop (lockKeyFor), never user input; set_config
  // only runs on servers that know the setting (a CASE branch that is not taken is not evaluated).
  if (!/^-?\d+$/.test(workKey)) throw new Error(`not a lock key: ${workKey}`);
  return (
    `select pg_advisory_lock_shared(${workKey}::bigint), ${setSearchPath(searchPath)}, case when ` +
    "current_setting('server_version_num')::int >= 140000 then " +
    `set_config('client_connection_check_interval', '${CLIENT_CHECK_INTERVAL}', false) end`
  );
}
