/**
 * A short task in a fresh worker thread: cancel on the server what a dead or terminated
 * migration thread left running. Terminating a thread closes its sockets, but a backend busy
 * with a statement does not notice until the statement ends (`client_connection_check_interval`
 * is 0 by default); `pg_cancel_backend` ends the statement, and the backend then finds its
 * client gone, rolls the transaction back and exits, releasing the advisory lock. Backends still
 * there after `waitMs` are terminated: their client is gone, nobody else can use them.
 *
 * The backends are found by the call's run tag in `application_name` (see `application-name.ts`).
 */
import { messageOf, poll } from '@offloop/core';
import {
  defaultAppliedBy,
  recordCrash,
  sql,
  withConnection,
  type CrashOutcome,
  type Db,
  type Sql,
} from '@offloop/core/engine';
import type { CancelRequest, CancelResponse } from '../protocol.ts';

const POLL_MS = 50;
const TERMINATED_WAIT_MS = 5_000;

/** Cancel, wait, then terminate the backends whose `application_name` ends with the run tag. */
export default async function cancelBackends(request: CancelRequest): Promise<CancelResponse> {
  const cancelled: number[] = [];
  const terminated: number[] = [];
  const errors: string[] = [];
  for (const url of request.urls) {
    try {
      const pids = await withConnection(url, request.connectTimeoutMs, (db) =>
        cancelTagged(db, request),
      );
      cancelled.push(...pids.cancelled);
      terminated.push(...pids.terminated);
    } catch (error) {
      errors.push(messageOf(error));
    }
  }
  let outcome: CrashOutcome | null = null;
  const crash = request.crash;
  if (crash !== undefined && errors.length === 0) {
    try {
      outcome = await withConnection(crash.url, request.connectTimeoutMs, (db) =>
        recordCrash(db, crash.versionTable, crash.migration, {
          appliedBy: crash.appliedBy ?? defaultAppliedBy,
          error: crash.error,
          durationMs: crash.durationMs,
        }),
      );
    } catch (error) {
      errors.push(messageOf(error));
    }
  }
  return { cancelled, terminated, errors, outcome };
}

/** Cancel the tagged backends of one server; terminate those still there after `waitMs`. */
async function cancelTagged(
  db: Db,
  request: CancelRequest,
): Promise<{ readonly cancelled: readonly number[]; readonly terminated: readonly number[] }> {
  const pattern = `%${request.runTag}`;
  const match = sql`application_name like ${pattern} and pid <> pg_backend_pid()`;
  const cancelled = await signalBackends(db, match, sql`pg_cancel_backend(pid)`);
  if (await waitUntilGone(db, match, cancelled, request.waitMs))
    return { cancelled, terminated: [] };
  const terminated = await signalBackends(db, match, sql`pg_terminate_backend(pid)`);
  // A transaction's outcome is final only once its backend is gone.
  await waitUntilGone(db, match, terminated, TERMINATED_WAIT_MS);
  return { cancelled, terminated };
}

/** Send `signal` to the backends `match` selects; the pids it was sent to. */
async function signalBackends(db: Db, match: Sql, signal: Sql): Promise<readonly number[]> {
  // Chosen first, then signalled: in one WHERE clause the planner may call the function on rows
  // the other conditions would have excluded.
  return db.column<number>(
    sql`
      select pid from (select pid from pg_stat_activity where ${match} offset 0) chosen
      where ${signal}`,
  );
}

/** Wait up to `waitMs` for the backends `match` selects to be gone; whether they are. */
async function waitUntilGone(
  db: Db,
  match: Sql,
  first: readonly number[],
  waitMs: number,
): Promise<boolean> {
  const gone = await poll(
    (attempt) =>
      attempt === 0
        ? first
        : db.column<number>(sql`select pid from pg_stat_activity where ${match}`),
    { until: (left) => left.length === 0, intervalMs: POLL_MS, timeoutMs: waitMs },
  );
  return !gone.timedOut;
}
