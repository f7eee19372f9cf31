/**
 * The run's advisory lock: session level, on one dedicated connection, taken by polling
 * `pg_try_advisory_lock` with backoff.
 *
 * A backend blocked in `pg_advisory_lock()` holds a snapshot, and `CREATE INDEX CONCURRENTLY`
 * waits for every such snapshot: two runners could deadlock (Flyway #1654, postgres-migrations
 * #36). Polling never blocks inside the server. The connection is never returned to a pool
 * while the lock is held: session locks belong to the connection.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type DatabasePool, type DatabasePoolConnection } from 'slonik';
import { z } from 'zod';
import { LockLostError, LockTimeoutError } from './errors.ts';

/** The advisory lock key for a version table: a signed 64-bit integer, as a decimal string. */
export function lockKeyFor(schema: string, table: string): string {
  const digest = createHash('sha256').update(`offloop:${schema}.${table}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** Options of {@link withAdvisoryLock}. */
export type LockOptions = {
  readonly key: string;
  /** Give up after this many milliseconds. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Called when waiting starts and about every {@link WAIT_REPORT_INTERVAL_MS} after. */
  readonly onWaiting?: (waitedMs: number, holderPid: number | null) => Promise<void> | void;
  readonly onAcquired?: (waitedMs: number) => Promise<void> | void;
};

/** How often a waiting runner reports that it is still waiting. */
export const WAIT_REPORT_INTERVAL_MS = 5_000;
const FIRST_DELAY_MS = 25;
const MAX_DELAY_MS = 1_000;

const lockRow = z.object({ locked: z.boolean() });
const holderRow = z.object({ pid: z.number(), application_name: z.string().nullable() });

/**
 * Hold the advisory lock `key` while `fn` runs, on a connection of `lockPool` that is held for
 * the whole time. Throws {@link LockTimeoutError} after `timeoutMs` of waiting, and
 * {@link LockLostError} if the lock was gone at release.
 */
export async function withAdvisoryLock<T>(lockPool: DatabasePool, options: LockOptions, fn: (lockConnection: DatabasePoolConnection) => Promise<T>): Promise<T> {
  return lockPool.connect(async (connection) => {
    const started = performance.now();
    let delay = FIRST_DELAY_MS;
    let lastReport = -Infinity;
    for (;;) {
      const { locked } = await connection.one(sql.type(lockRow)`select pg_try_advisory_lock(${options.key}::bigint) as locked`);
      const waited = Math.round(performance.now() - started);
      if (locked) {
        await options.onAcquired?.(waited);
        break;
      }
      const holder = await findHolder(lockPool, connection, options.key);
      if (waited >= options.timeoutMs) {
        throw new LockTimeoutError(
          `Another runner held the migration lock for ${waited} ms, longer than lockTimeout (${options.timeoutMs} ms)` +
            (holder ? `; it is held by PostgreSQL backend pid ${holder.pid}${holder.application_name ? ` (${holder.application_name})` : ''}` : '') +
            '. Wait for that run to finish, or raise the limit (--lock-timeout, or lockTimeout in the library).',
          { lockKey: options.key, waitedMs: waited, holderPid: holder?.pid ?? null, holderApplication: holder?.application_name ?? null },
        );
      }
      if (waited - lastReport >= WAIT_REPORT_INTERVAL_MS) {
        lastReport = waited;
        await options.onWaiting?.(waited, holder?.pid ?? null);
      }
      // Jittered exponential backoff, never sleeping past the deadline.
      const pause = Math.min(delay * (0.5 + Math.random()), options.timeoutMs - waited);
      await sleep(Math.max(1, pause), undefined, { signal: options.signal });
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }

    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await fn(connection) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    let releaseError: Error | null = null;
    try {
      const released = await connection.oneFirst(sql.type(z.object({ released: z.boolean() }))`select pg_advisory_unlock(${options.key}::bigint) as released`);
      if (!released) releaseError = new LockLostError(`The migration lock ${options.key} was not held at release: the lock connection was reset during the run.`, { lockKey: options.key });
    } catch (error) {
      releaseError = error instanceof Error ? error : new Error(String(error));
    }
    if (!outcome.ok) {
      // A cleanup failure never hides the original failure.
      throw releaseError === null ? outcome.error : new SuppressedError(releaseError, outcome.error, 'releasing the migration lock failed after the run failed');
    }
    if (releaseError !== null) throw releaseError;
    return outcome.value;
  });
}

type Queryable = Pick<DatabasePool, 'maybeOne'>;

async function findHolder(_pool: DatabasePool, connection: Queryable, key: string): Promise<z.infer<typeof holderRow> | null> {
  // pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits).
  const value = BigInt.asUintN(64, BigInt(key));
  const high = (value >> 32n).toString();
  const low = (value & 0xffffffffn).toString();
  return connection.maybeOne(sql.type(holderRow)`
    select l.pid, a.application_name
    from pg_locks l left join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted and l.objsubid = 1
      and l.classid = ${high}::oid and l.objid = ${low}::oid and l.database = (select oid from pg_database where datname = current_database())
    limit 1`);
}
