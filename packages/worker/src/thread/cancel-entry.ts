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
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultAppliedBy, recordCrash, type CrashOutcome } from '@offloop/core/engine';
import { createPool, sql } from 'slonik';
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
      const pool = await createPool(url, {
        maximumPoolSize: 1,
        connectionTimeout: request.connectTimeoutMs,
        statementTimeout: 'DISABLE_TIMEOUT',
        idleInTransactionSessionTimeout: 'DISABLE_TIMEOUT',
        connectionRetryLimit: 0,
        queryRetryLimit: 0,
        transactionRetryLimit: 0,
      });
      try {
        const pattern = `%${request.runTag}`;
        const match = sql.fragment`application_name like ${pattern} and pid <> pg_backend_pid()`;
        // Chosen first, then signalled: in one WHERE clause the planner may call the function on rows
        // the other conditions would have excluded.
        const first = await pool.anyFirst(
          sql.type(
            pidRow,
          )`select pid from (select pid from pg_stat_activity where ${match} offset 0) chosen where pg_cancel_backend(pid)`,
        );
        cancelled.push(...first);
        const deadline = performance.now() + request.waitMs;
        let left = first;
        while (left.length > 0 && performance.now() < deadline) {
          await sleep(POLL_MS);
          left = await pool.anyFirst(
            sql.type(pidRow)`select pid from pg_stat_activity where ${match}`,
          );
        }
        if (left.length > 0) {
          terminated.push(
            ...(await pool.anyFirst(
              sql.type(
                pidRow,
              )`select pid from (select pid from pg_stat_activity where ${match} offset 0) chosen where pg_terminate_backend(pid)`,
            )),
          );
          // A transaction's outcome is final only once its backend is gone.
          for (
            const end = performance.now() + TERMINATED_WAIT_MS;
            left.length > 0 && performance.now() < end;
          ) {
            await sleep(POLL_MS);
            left = await pool.anyFirst(
              sql.type(pidRow)`select pid from pg_stat_activity where ${match}`,
            );
          }
        }
      } finally {
        await pool.end();
      }
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }
  let outcome: CrashOutcome | null = null;
  const crash = request.crash;
  if (crash !== undefined && errors.length === 0) {
    try {
      const pool = await createPool(crash.url, {
        maximumPoolSize: 1,
        connectionTimeout: request.connectTimeoutMs,
        connectionRetryLimit: 0,
        queryRetryLimit: 0,
        transactionRetryLimit: 0,
      });
      try {
        outcome = await recordCrash(pool, crash, crash.migration, {
          appliedBy: crash.appliedBy ?? defaultAppliedBy,
          error: crash.error,
          durationMs: crash.durationMs,
        });
      } finally {
        await pool.end();
      }
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }
  return { cancelled, terminated, errors, outcome };
}
