/**
 * The one connection that holds a harness's session-level locks for its lifetime: the owner lock
 * (so that other harnesses see this one is alive) and its project's lock, shared (so that no
 * prune drops its databases). Session-level advisory locks must stay on one connection, never go
 * through a pool.
 */
import { messageOf } from '@offloop/core';
import { sql, type DatabasePool, type DatabasePoolConnection } from 'slonik';
import { OWNER_LOCK_CLASS, PROJECT_LOCK_CLASS, projectLockKey } from './names.ts';

/** How often the session's connection is checked: its locks vanish with it. */
const SESSION_CHECK_MS = 5_000;

type Held = {
  readonly connection: DatabasePoolConnection;
  /** Resolves the session's callback, which unlocks and returns the connection. */
  readonly end: () => Promise<void>;
};

/** A harness's session: its connection, replaced (and its locks taken again) if it is lost. */
export class HarnessSession {
  readonly #pool: DatabasePool;
  readonly #ownerId: number;
  readonly #project: string;
  #held: Held;
  /** The timer that checks the connection is still there. */
  #watch: NodeJS.Timeout | undefined;

  private constructor(pool: DatabasePool, ownerId: number, project: string, held: Held) {
    this.#pool = pool;
    this.#ownerId = ownerId;
    this.#project = project;
    this.#held = held;
  }

  /** Take the owner lock `ownerId` and the lock of `project` (shared) on a connection of `pool`. */
  static async open(pool: DatabasePool, ownerId: number, project: string): Promise<HarnessSession> {
    return new HarnessSession(pool, ownerId, project, await hold(pool, ownerId, project));
  }

  /** The session's connection, for the locks a harness takes and releases itself. */
  get connection(): DatabasePoolConnection {
    return this.#held.connection;
  }

  /**
   * Check the session every few seconds. A lost connection (a network drop, a server restart, an
   * administrator's pg_terminate_backend) takes the harness's locks with it: report it (for the
   * stats), and take them again on a new connection.
   */
  watch(isClosing: () => boolean, onFailure: (error: unknown) => void): void {
    let checking = false;
    this.#watch = setInterval(() => {
      if (checking || isClosing()) return;
      checking = true;
      void (async () => {
        try {
          await this.#held.connection.query(sql.unsafe`select 1`);
        } catch (error) {
          onFailure(
            new Error(
              "the harness's session connection was lost, and its locks with it " +
                `(${messageOf(error)}); taking them again`,
              { cause: error },
            ),
          );
          await this.#held.end().catch(() => undefined);
          const renewed = await hold(this.#pool, this.#ownerId, this.#project).catch(
            (reopen: unknown) => {
              onFailure(reopen);
              return null;
            },
          );
          if (renewed !== null) this.#held = renewed;
        } finally {
          checking = false;
        }
      })();
    }, SESSION_CHECK_MS).unref();
  }

  /** Stop watching, unlock and give the connection back. */
  async end(): Promise<void> {
    clearInterval(this.#watch);
    await this.#held.end();
  }
}

/**
 * Hold a session: the owner lock (in {@link lockOwner}) and the project lock, shared. Idle
 * timeouts are turned off for this connection: a server with `idle_session_timeout` would
 * otherwise end it between tests, and with it the locks that keep other harnesses' sweeps and
 * prunes away from this harness's databases.
 */
async function hold(pool: DatabasePool, ownerId: number, project: string): Promise<Held> {
  const held = await lockOwner(pool, ownerId);
  try {
    await held.connection.query(sql.unsafe`
      select set_config(name, '0', false) from pg_settings
      where name in ('idle_session_timeout', 'idle_in_transaction_session_timeout')`);
    await held.connection.query(
      sql.unsafe`select pg_advisory_lock_shared(
        ${PROJECT_LOCK_CLASS}::int, ${projectLockKey(project)}::int)`,
    );
  } catch (error) {
    await held.end().catch(() => undefined);
    throw error;
  }
  return held;
}

/** A connection of `pool` kept (inside `pool.connect`) until `end()`, holding the owner lock. */
function lockOwner(pool: DatabasePool, ownerId: number): Promise<Held> {
  return new Promise((resolve, reject) => {
    const release = Promise.withResolvers<void>();
    const done = pool.connect(async (connection) => {
      await connection.query(
        sql.unsafe`select pg_advisory_lock(${OWNER_LOCK_CLASS}::int, ${ownerId}::int)`,
      );
      resolve({
        connection,
        end: async () => {
          release.resolve();
          await done;
        },
      });
      await release.promise;
      await connection.query(sql.unsafe`select pg_advisory_unlock_all()`);
    });
    done.catch(reject);
  });
}
