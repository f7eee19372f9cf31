/** What the isolation tests check on the server after a run stopped: backends, locks, tables. */
import { poll } from '@offloop/core';
import { createPool, sql } from 'slonik';
import { z } from 'zod';

/** The server's view of a test database, apart from the connection that asks. */
export type ServerState = {
  /** Other client backends connected to the database, with their state and query. */
  readonly backends: readonly {
    readonly pid: number;
    readonly state: string | null;
    readonly query: string;
  }[];
  /** Advisory locks held by anyone in the database. */
  readonly advisoryLocks: number;
  /** Tables in `public`, apart from offloop's own (`offloop_*`: version table, log table). */
  readonly tables: readonly string[];
  /** Rows of the version table (empty when it does not exist). */
  readonly versions: readonly string[];
};

const backendRow = z.object({ pid: z.number(), state: z.string().nullable(), query: z.string() });

/** Read {@link ServerState} over a short-lived connection. */
async function serverState(url: string): Promise<ServerState> {
  const pool = await createPool(url, {
    maximumPoolSize: 1,
    queryRetryLimit: 0,
    transactionRetryLimit: 0,
  });
  try {
    const backends = await pool.any(sql.type(backendRow)`
      select pid, state, query from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`);
    const advisoryLocks = await pool.oneFirst(sql.type(z.object({ count: z.number() }))`
      select count(*)::int as count from pg_locks
      where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`);
    const allTables = await pool.anyFirst(sql.type(z.object({ relname: z.string() }))`
      select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r' order by relname`);
    const tables = allTables.filter((name) => !name.startsWith('offloop_'));
    const versions = allTables.includes('offloop_migrations')
      ? await pool.anyFirst(
          sql.type(
            z.object({ version: z.string() }),
          )`select version from public.offloop_migrations order by version`,
        )
      : [];
    return { backends, advisoryLocks, tables, versions };
  } finally {
    await pool.end();
  }
}

/**
 * The state once the run's backends have gone (a backend whose client died exits on its own,
 * asynchronously), or the last state seen after `timeoutMs`.
 */
export async function settledServerState(url: string, timeoutMs = 10_000): Promise<ServerState> {
  const settled = await poll(() => serverState(url), {
    until: (state) => state.backends.length === 0 && state.advisoryLocks === 0,
    intervalMs: 50,
    timeoutMs,
  });
  return settled.value;
}
