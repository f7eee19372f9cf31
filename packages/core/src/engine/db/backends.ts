/**
 * The SQL that looks at and controls other backends (`pg_stat_activity`, `pg_locks`,
 * `pg_cancel_backend`, `pg_terminate_backend`), in one place. It runs on the run lock's own
 * connection (`lock/lock.ts`), which stays free while the work connections are busy.
 */
import type { LockBlocker, MigrationBlockedEvent } from '../../model/events.ts';

/** Backends other than this one holding an advisory lock given as (classid, objid) in this database. */
export const HOLDERS_QUERY = `
  select l.pid, a.application_name, a.state
  from pg_locks l left join pg_stat_activity a on a.pid = l.pid
  where l.locktype = 'advisory' and l.granted and l.objsubid = 1
    and l.classid = $1::oid and l.objid = $2::oid
    and l.database = (select oid from pg_database where datname = current_database())
    and l.pid <> pg_backend_pid()
  order by l.pid`;

/**
 * Whether no other backend holds the advisory lock `$1` (a bigint), in any mode: taken exclusively
 * and given back at once. Far cheaper than {@link HOLDERS_QUERY} (which copies the server's whole
 * lock table and every backend's status): a run asks it first, and looks for holders only when
 * the lock is not free.
 */
export const FREE_QUERY =
  'select case when pg_try_advisory_lock($1::bigint) then pg_advisory_unlock($1::bigint) ' +
  'else false end as free';

/** Cancel the statement running on backend `$1`. */
export const CANCEL_QUERY = 'select pg_cancel_backend($1)';

/** End backend `$1`. */
export const TERMINATE_QUERY = 'select pg_terminate_backend($1)';

/** One row while backend `$1` still exists. */
export const ALIVE_QUERY = 'select 1 from pg_stat_activity where pid = $1';

// Sampled every few tens of ms while a migration runs (see apply/lock-retry.ts): the backend's own
// row from pg_stat_get_activity(pid), not the pg_stat_activity view (every backend, joined with
// the catalogs), and the lock details only when it does wait.
const LOCK_WAIT_QUERY = `
  select a.wait_event as lock_type,
    -- pg_locks.waitstart (PostgreSQL 14+) when the server has it, else the statement's start.
    (extract(epoch from clock_timestamp() - coalesce(
      (select min((to_jsonb(l) ->> 'waitstart')::timestamptz) from pg_locks l
        where l.pid = a.pid and not l.granted),
      a.query_start)) * 1000)::int as waited_ms,
    coalesce((
      select json_agg(json_build_object(
        'pid', b.pid, 'applicationName', b.application_name, 'user', b.usename::text,
        'state', b.state,
        'transactionMs', (extract(epoch from clock_timestamp() - b.xact_start) * 1000)::int,
        'query', left(b.query, 300)
      ) order by b.pid)
      from pg_stat_activity b where b.pid = any(pg_blocking_pids(a.pid))
    ), '[]'::json) as blocked_by
  from pg_stat_get_activity($1) a
  where a.wait_event_type = 'Lock'`;

type LockWaitRow = {
  lock_type: string | null;
  waited_ms: number | null;
  blocked_by: LockBlocker[];
};

/** A backend's lock wait, as the `migration:blocked` event reports it. */
export type LockWait = Omit<MigrationBlockedEvent, 'type' | 'version' | 'pid'>;

/** How a query is sent on the connection that looks at other backends. */
export type BackendQuery = <R extends Record<string, unknown>>(
  text: string,
  values: readonly unknown[],
) => Promise<R[]>;

/** What backend `pid` waits for and who holds it up; null when it waits for no lock. */
export async function describeLockWait(query: BackendQuery, pid: number): Promise<LockWait | null> {
  const [row] = await query<LockWaitRow>(LOCK_WAIT_QUERY, [pid]);
  return row === undefined
    ? null
    : {
        lockType: row.lock_type ?? 'lock',
        waitedMs: row.waited_ms ?? 0,
        blockedBy: row.blocked_by,
      };
}
