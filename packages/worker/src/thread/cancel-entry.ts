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
import { defaultAppliedBy, recordCrash, type CrashOutcome } from '@offloop/core/engine';
import {
  createPool,
  sql,
  type ClientConfigurationInput,
  type DatabasePool,
  type FragmentSqlToken,
} from 'slonik';
import { z } from 'zod';
import type { CancelRequest, CancelResponse } from '../protocol.ts';

const pidRow = z.object({ pid: z.number() });
const POLL_MS = 50;
const TERMINATED_WAIT_MS = 5_000;

/** Cancel, wait, then terminate the backends whose `application_name` ends with the run tag. */
export default async function cancelBackends(request: CancelRequest): Promise<CancelResponse> {
  const cancelled: number[] = [];
  const terminated: number[] = [];
  const errors: string[] = [];
  for (const url of request.urls) {
    try {
      const pids = await withPool(url, cancelPoolOptions(request), (pool) =>
        cancelTagged(pool, request),
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
      outcome = await withPool(crash.url, crashPoolOptions(request), (pool) =>
        recordCrash(pool, crash, crash.migration, {
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
  pool: DatabasePool,
  request: CancelRequest,
): Promise<{ readonly cancelled: readonly number[]; readonly terminated: readonly number[] }> {
  const pattern = `%${request.runTag}`;
  const match = sql.fragment`application_name like ${pattern} and pid <> pg_backend_pid()`;
  const cancelled = await signalBackends(pool, match, sql.fragment`pg_cancel_backend(pid)`);
  if (await waitUntilGone(pool, match, cancelled, request.waitMs))
    return { cancelled, terminated: [] };
  const terminated = await signalBackends(pool, match, sql.fragment`pg_terminate_backend(pid)`);
  // A transaction's outcome is final only once its backend is gone.
  await waitUntilGone(pool, match, terminated, TERMINATED_WAIT_MS);
  return { cancelled, terminated };
}

/** Send `signal` to the backends `match` selects; the pids it was sent to. */
async function signalBackends(
  pool: DatabasePool,
  match: FragmentSqlToken,
  signal: FragmentSqlToken,
): Promise<readonly number[]> {
  // Chosen first, then signalled: in one WHERE clause the planner may call the function on rows
  // the other conditions would have excluded.
  return pool.anyFirst(
    sql.type(pidRow)`
      select pid from (select pid from pg_stat_activity where ${match} offset 0) chosen
      where ${signal}`,
  );
}

/** Wait up to `waitMs` for the backends `match` selects to be gone; whether they are. */
async function waitUntilGone(
  pool: DatabasePool,
  match: FragmentSqlToken,
  first: readonly number[],
  waitMs: number,
): Promise<boolean> {
  const gone = await poll(
    (attempt) =>
      attempt === 0
        ? first
        : pool.anyFirst(sql.type(pidRow)`select pid from pg_stat_activity where ${match}`),
    { until: (left) => left.length === 0, intervalMs: POLL_MS, timeoutMs: waitMs },
  );
  return !gone.timedOut;
}

/** One connection that gives up at once, and no statement timeout: a cancel must not time out. */
function cancelPoolOptions(request: CancelRequest): ClientConfigurationInput {
  return {
    ...crashPoolOptions(request),
    statementTimeout: 'DISABLE_TIMEOUT',
    idleInTransactionSessionTimeout: 'DISABLE_TIMEOUT',
  };
}

/** One connection that gives up at once. */
function crashPoolOptions(request: CancelRequest): ClientConfigurationInput {
  return {
    maximumPoolSize: 1,
    connectionTimeout: request.connectTimeoutMs,
    connectionRetryLimit: 0,
    queryRetryLimit: 0,
    transactionRetryLimit: 0,
  };
}

/** A pool for `use`, ended after it. */
async function withPool<T>(
  url: string,
  options: ClientConfigurationInput,
  use: (pool: DatabasePool) => Promise<T>,
): Promise<T> {
  const pool = await createPool(url, options);
  try {
    return await use(pool);
  } finally {
    await pool.end();
  }
}
