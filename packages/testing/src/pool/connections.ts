/**
 * The harness's connections to the server, opened once at start-up and ended at close: one pool
 * per job, so that a slow `CREATE DATABASE` never holds up a claim.
 */
import { DatabaseUnavailableError, retry } from '@offloop/core';
import { sql, type DatabasePool } from 'slonik';
import type { PoolWorkerOptions } from '../protocol.ts';
import { ensureSharedServer } from '../server/shared-server.ts';
import { connect } from './databases.ts';

/** Connections kept open for claims (a file's tests ask at once; a claim takes a few ms). */
export const CLAIM_CONNECTIONS = 4;

/** The harness's connection pools, all to the admin database. */
export type Connections = {
  readonly adminUrl: string;
  /** Claims only: connections opened at start-up, so a claim is one statement on an open connection. */
  readonly claimPool: DatabasePool;
  /** On-demand clones and drops. */
  readonly pool: DatabasePool;
  /** Background clones, so that a slow CREATE DATABASE never holds up a claim. */
  readonly backgroundPool: DatabasePool;
  /** The one connection of the harness's session (its locks). */
  readonly sessionPool: DatabasePool;
};

/** Open every pool; those already open are ended if a later one fails. */
export async function openConnections(options: PoolWorkerOptions): Promise<Connections> {
  const { adminUrl, pool } = await connectAdmin(options);
  const pools = [pool];
  const open = async (size: number): Promise<DatabasePool> => {
    const opened = await connect(adminUrl, size);
    pools.push(opened);
    return opened;
  };
  try {
    const claimPool = await open(CLAIM_CONNECTIONS);
    // Open every claim connection now (slonik opens them lazily): the tests of a file ask at once.
    await Promise.all(
      Array.from({ length: CLAIM_CONNECTIONS }, () =>
        claimPool.connect((connection) => connection.query(sql.unsafe`select 1`)),
      ),
    );
    const sessionPool = await open(1);
    const backgroundPool = await open(options.maxParallelCreates + 1);
    return { adminUrl, claimPool, pool, backgroundPool, sessionPool };
  } catch (error) {
    await Promise.all(pools.map((each) => each.end()));
    throw error;
  }
}

/** End every pool. */
export async function endConnections(connections: Connections): Promise<void> {
  await Promise.all([
    connections.claimPool.end(),
    connections.pool.end(),
    connections.backgroundPool.end(),
    connections.sessionPool.end(),
  ]);
}

/** The admin connections: to the given URL, or to the shared embedded server. */
async function connectAdmin(
  options: PoolWorkerOptions,
): Promise<{ adminUrl: string; pool: DatabasePool }> {
  if (options.url !== null) return { adminUrl: options.url, pool: await connect(options.url, 8) };
  // The shared server may stop for idleness between finding it and connecting: look again.
  return retry(
    async () => {
      const adminUrl = await ensureSharedServer({
        dir: options.embeddedDir,
        idleTimeout: options.embeddedIdleTimeout,
      });
      return { adminUrl, pool: await connect(adminUrl, 8) };
    },
    // `connect` throws only this; a failure to find or start the server is not retried.
    { attempts: 3, retryOn: (error) => error instanceof DatabaseUnavailableError },
  );
}
