/**
 * The run's locks. One runner at a time touches the schema, and that holds for the work itself,
 * not only for the lock:
 *
 * - The **run lock** (exclusive, session level) lives on one dedicated connection
 *   ({@link LockSession}), taken by polling `pg_try_advisory_lock` with backoff. A backend
 *   blocked in `pg_advisory_lock()` holds a snapshot, and `CREATE INDEX CONCURRENTLY` waits for
 *   every such snapshot: two runners could deadlock (Flyway #1654, postgres-migrations #36).
 *   Polling never blocks inside the server.
 * - The **work lock** (shared, session level) is held by every connection that runs migration
 *   work (see `work-lock.ts`) for as long as the run holds the run lock.
 *
 * Why two: a backend does not notice that its client died until it next writes to its socket.
 * After a `kill -9` of a runner, its idle lock connection ends at once and frees the run lock,
 * while the statement (or a whole `begin ... commit` batch) it had sent runs on, and commits up
 * to seconds later. A runner that takes the run lock therefore first looks for holders of the
 * work lock: any it finds belong to a runner that lost the run lock (killed, or its lock
 * connection dropped). It ends them with `pg_terminate_backend` and waits until they are gone
 * before it reads the version table, so their work has either committed (and is seen as applied)
 * or rolled back (and runs again), never both at once. `client_connection_check_interval`
 * (PostgreSQL 14+) on the work connections makes such orphans abort by themselves within a second
 * even when no other runner comes.
 *
 * The run lock's connection is a plain `pg` client, not a pool's: its end is noticed at once (the
 * `error`/`end` events), which {@link LockSession.lost} reports, and the run stops with
 * `LOCK_LOST` after cancelling what it had in flight.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { asDatabaseUnavailable } from '../db/pg-errors.ts';
import {
  ALIVE_QUERY,
  CANCEL_QUERY,
  FREE_QUERY,
  HOLDERS_QUERY,
  TERMINATE_QUERY,
} from '../db/backends.ts';
import { pgClientConfig } from '../db/pg-client.ts';
import { LockLostError, LockTimeoutError } from '../../errors/index.ts';
import type { VersionTable } from '../../sql/ddl.ts';
import { Memo } from '../../util/memo.ts';
import { backoff, poll } from '../../util/poll.ts';

/**
 * The advisory lock key for a version table: a signed 64-bit integer, as a decimal string. It
 * follows the ledger (`migrationsSchema` and `table`), not the schema migrations run in: runners
 * that record into one version table wait for one another, whatever their `schema`.
 */
export function lockKeyFor(versionTable: VersionTable): string {
  return keyOf(`offloop:${versionTable.schema}.${versionTable.table}`);
}

/** The work lock's key for a version table (see the module comment), which it follows too. */
export function workLockKeyFor(versionTable: VersionTable): string {
  return keyOf(`offloop-work:${versionTable.schema}.${versionTable.table}`);
}

/** Keys already made, by their text (a fleet's thread makes the same few for every target). */
const keys = new Memo<string>(1024);

function keyOf(text: string): string {
  return keys.get(text, () =>
    createHash('sha256').update(text).digest().readBigInt64BE(0).toString(),
  );
}

/** How often a waiting runner reports that it is still waiting. */
const WAIT_REPORT_INTERVAL_MS = 5_000;
const FIRST_DELAY_MS = 25;
const MAX_DELAY_MS = 1_000;
const POLL_MS = 50;
/** How long backends of a runner that just finished may take to exit before they count as leftovers. */
const EXIT_GRACE_MS = 500;

/** Options of {@link LockSession.acquire}. */
export type LockOptions = {
  readonly key: string;
  /** Give up after this many milliseconds. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Called when waiting starts and about every {@link WAIT_REPORT_INTERVAL_MS} after. */
  readonly onWaiting?: (waitedMs: number, holderPid: number | null) => Promise<void> | void;
  readonly onAcquired?: (waitedMs: number) => Promise<void> | void;
};

/** A backend found holding the work lock of a runner that no longer holds the run lock. */
export type OrphanBackend = {
  readonly pid: number;
  readonly applicationName: string | null;
  readonly state: string | null;
};

/** `pg_locks` shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits). */
function lockParts(key: string): [string, string] {
  const value = BigInt.asUintN(64, BigInt(key));
  return [(value >> 32n).toString(), (value & 0xffffffffn).toString()];
}

/**
 * A lock connection, shared by the runs of one thread that lock in one database at the same time
 * (a fleet's targets, each with its own key): every idle backend connected to a database pays
 * for the catalog invalidations the others' DDL sends, so a fleet of eight targets with a
 * connection each for their locks spent about half again the server's CPU. One session holds any
 * number of advisory locks. It ends with its last run; a migrator's single run has it alone.
 */
class LockConnection {
  readonly client: pg.Client;
  readonly url: string;
  readonly connectTimeout: number;
  /** The runs on it. */
  readonly sessions = new Set<LockSession>();
  /** The run lock keys its runs hold: a second run of one target in this thread waits. */
  readonly held = new Set<string>();
  /** Its entry in {@link shared}, which only it may remove. */
  entry: Promise<LockConnection> | null = null;
  #gone = false;
  #closing = false;

  constructor(client: pg.Client, url: string, connectTimeout: number) {
    this.client = client;
    this.url = url;
    this.connectTimeout = connectTimeout;
    const onGone = (error?: Error) => {
      if (this.#closing || this.#gone) return;
      this.#gone = true;
      this.#forget();
      for (const session of this.sessions) session.connectionEnded(error);
    };
    client.on('error', onGone);
    client.on('end', () => onGone());
  }

  #queue: Promise<unknown> = Promise.resolve();

  /** Send a query once the ones before it (of any run on this connection) have returned. */
  query<R extends pg.QueryResultRow>(
    text: string,
    values?: readonly unknown[],
  ): Promise<pg.QueryResult<R>> {
    const sent = this.#queue.then(() =>
      this.client.query<R>(text, values === undefined ? undefined : [...values]),
    );
    this.#queue = sent.catch(() => undefined);
    return sent;
  }

  /** Whether a new run may use it: open and not closing. */
  get usable(): boolean {
    return !this.#gone && !this.#closing;
  }

  /** End it, and with it every lock its runs still hold: they are told they lost theirs. */
  async end(): Promise<void> {
    this.#closing = true;
    this.#forget();
    const ended = new Error('the lock connection was ended after a failed release');
    for (const session of this.sessions) session.connectionEnded(ended);
    await this.client.end().catch(() => undefined);
  }

  #forget(): void {
    const key = sharedKeyOf(this.url, this.connectTimeout);
    if (this.entry !== null && shared.get(key) === this.entry) shared.delete(key);
  }
}

/** A query on the lock connection, or on a fresh one once it is lost. */
type ControlQuery = (text: string, values: readonly unknown[]) => Promise<pg.QueryResult>;

/** This thread's lock connections, by server, database and role. */
const shared = new Map<string, Promise<LockConnection>>();

/** What makes two runs' lock connections one: all but the run's `application_name`. */
function sharedKeyOf(url: string, connectTimeout: number): string {
  const { application_name: _tag, ...settings } = pgClientConfig(url, connectTimeout);
  return JSON.stringify(settings);
}

/** Connect to `url` and set the session up for its long idle. */
async function connectLock(url: string, connectTimeout: number): Promise<LockConnection> {
  const client = new pg.Client(pgClientConfig(url, connectTimeout));
  // An error before the connection exists is reported by connect() itself.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw asDatabaseUnavailable(error, url);
  }
  // The lock connection idles for the whole run: no server-side idle timeout may end it.
  await client.query(
    "select set_config('idle_in_transaction_session_timeout', '0', false), " +
      "set_config('statement_timeout', '0', false)",
  );
  return new LockConnection(client, url, connectTimeout);
}

/**
 * A run's hold on the lock connection: takes and holds its run lock, notices at once when the
 * connection ends ({@link LockSession.lost}), and sends cancels and terminations to the run's
 * other backends. Create with {@link LockSession.open}; always {@link LockSession.close}.
 */
export class LockSession {
  readonly #connection: LockConnection;
  readonly #url: string;
  readonly #connectTimeout: number;
  readonly #lost = new AbortController();
  #held: string | null = null;
  #closed = false;

  private constructor(connection: LockConnection) {
    this.#connection = connection;
    this.#url = connection.url;
    this.#connectTimeout = connection.connectTimeout;
  }

  /**
   * A run's session on the lock connection to `url` (the lock URL, else the database URL): this
   * thread's open one for that database, or a new one. A failure to connect is
   * `DATABASE_UNAVAILABLE`.
   */
  static async open(url: string, connectTimeout: number): Promise<LockSession> {
    const key = sharedKeyOf(url, connectTimeout);
    let connecting = shared.get(key);
    const open = connecting === undefined ? null : await connecting.catch(() => null);
    if (open === null || !open.usable) {
      connecting = connectLock(url, connectTimeout);
      shared.set(key, connecting);
      connecting.catch(() => {
        if (shared.get(key) === connecting) shared.delete(key);
      });
    }
    const connection = await (connecting as Promise<LockConnection>);
    connection.entry ??= connecting as Promise<LockConnection>;
    const session = new LockSession(connection);
    connection.sessions.add(session);
    return session;
  }

  /** The shared connection ended: this run has lost its lock. */
  connectionEnded(error?: Error): void {
    if (this.#closed || this.#lost.signal.aborted) return;
    const why = error?.message ?? 'the server closed the connection';
    this.#lost.abort(
      new LockLostError(
        `The migration lock's connection ended during the run (${why}): the ` +
          `lock ${this.#held ?? ''} is no longer held, and another runner may take it.`,
        { lockKey: this.#held ?? '', applied: [], version: null, file: null },
        error === undefined ? undefined : { cause: error },
      ),
    );
  }

  /** Fires, with a {@link LockLostError} as its reason, when the connection ends while open. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /**
   * Take the run lock, polling with jittered backoff. Throws {@link LockTimeoutError} after
   * `timeoutMs` of waiting.
   */
  async acquire(options: LockOptions): Promise<void> {
    let lastReport = -Infinity;
    const wait = await poll(
      async () => {
        // Another run of this thread holds it on this very session, where taking it again
        // would succeed (advisory locks count): that run is the holder.
        if (this.#connection.held.has(options.key)) return { locked: false, holder: null };
        const { rows } = await this.#connection.query<{ locked: boolean }>(
          'select pg_try_advisory_lock($1::bigint) as locked',
          [options.key],
        );
        if (rows[0]?.locked === true) {
          this.#connection.held.add(options.key);
          return { locked: true, holder: null };
        }
        return { locked: false, holder: (await this.holders(options.key))[0] ?? null };
      },
      {
        until: ({ locked }) => locked,
        intervalMs: backoff({ firstMs: FIRST_DELAY_MS, maxMs: MAX_DELAY_MS }),
        timeoutMs: options.timeoutMs,
        signal: options.signal,
        onWait: async ({ holder }, waitedMs) => {
          const waited = Math.round(waitedMs);
          if (waited - lastReport < WAIT_REPORT_INTERVAL_MS) return;
          lastReport = waited;
          await options.onWaiting?.(waited, holder?.pid ?? null);
        },
      },
    );
    const waited = Math.round(wait.waitedMs);
    if (wait.timedOut) {
      const { holder } = wait.value;
      // A first check that took the whole lockTimeout (a loaded server) ends the wait before it
      // was reported: a LOCK_TIMEOUT always follows a `lock:waiting`.
      if (lastReport === -Infinity) await options.onWaiting?.(waited, holder?.pid ?? null);
      throw new LockTimeoutError(
        `Another runner held the migration lock for ${waited} ms, longer than ` +
          `lockTimeout (${options.timeoutMs} ms)` +
          (holder
            ? `; it is held by PostgreSQL backend pid ${holder.pid}` +
              (holder.applicationName ? ` (${holder.applicationName})` : '')
            : '') +
          '. Wait for that run to finish, or raise the limit (--lock-timeout, or lockTimeout in ' +
          'the library).',
        {
          lockKey: options.key,
          waitedMs: waited,
          holderPid: holder?.pid ?? null,
          holderApplication: holder?.applicationName ?? null,
        },
      );
    }
    this.#held = options.key;
    await options.onAcquired?.(waited);
  }

  /** Backends other than this one that hold the advisory lock `key` (exclusive or shared). */
  async holders(key: string): Promise<OrphanBackend[]> {
    const [high, low] = lockParts(key);
    const { rows } = await this.#connection.query<{
      pid: number;
      application_name: string | null;
      state: string | null;
    }>(HOLDERS_QUERY, [high, low]);
    return rows.map((row) => ({
      pid: row.pid,
      applicationName: row.application_name,
      state: row.state,
    }));
  }

  /** Whether no other backend holds the advisory lock `key` (see `FREE_QUERY`). */
  async #isFree(key: string): Promise<boolean> {
    const { rows } = await this.#connection.query<{ free: boolean }>(FREE_QUERY, [key]);
    return rows[0]?.free === true;
  }

  /**
   * End every backend that still holds the work lock `workKey` (they belong to a runner that lost
   * the run lock, see the module comment) and wait until they are gone, at most `timeoutMs`.
   * Returns the backends it found. Backends it may not terminate (another role without
   * `pg_signal_backend`) are waited for.
   */
  async endOrphans(
    workKey: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<OrphanBackend[]> {
    // Usually no one holds it: one cheap query says so.
    if (await this.#isFree(workKey)) return [];
    // The runner before this one closed its connections just before it released the run lock;
    // their backends exit a moment later. Those are not leftovers: give them that moment.
    const { value: found } = await poll(() => this.holders(workKey), {
      until: (holders) => holders.length === 0,
      intervalMs: POLL_MS / 2,
      timeoutMs: EXIT_GRACE_MS,
      signal,
    });
    if (found.length === 0) return [];
    for (const orphan of found) {
      await this.#connection.query(TERMINATE_QUERY, [orphan.pid]).catch(() => undefined);
    }
    const gone = await poll(() => this.holders(workKey), {
      until: (left) => left.length === 0,
      intervalMs: POLL_MS,
      timeoutMs,
      signal,
    });
    if (!gone.timedOut) return found;
    const left = gone.value;
    const waited = Math.round(gone.waitedMs);
    throw new LockTimeoutError(
      'This run took the migration lock, but ' +
        `${left.length === 1 ? 'a backend' : 'backends'} of an earlier run that lost it (pid ` +
        `${left.map((o) => o.pid).join(', ')}) still ${left.length === 1 ? 'runs' : 'run'} ` +
        `migration work after ${waited} ms and could not be ended (pg_terminate_backend needs ` +
        'the same role or pg_signal_backend). Nothing was run. End them (select ' +
        'pg_terminate_backend(pid)) or wait for them, then run again.',
      {
        lockKey: workKey,
        waitedMs: waited,
        holderPid: left[0]?.pid ?? null,
        holderApplication: left[0]?.applicationName ?? null,
      },
    );
  }

  /**
   * Run `fn` on this connection while it lives, otherwise on a fresh one to the same server: a
   * run that lost its lock must still be able to stop what it sent.
   */
  async #control<T>(fn: (query: ControlQuery) => Promise<T>): Promise<T> {
    if (!this.#lost.signal.aborted)
      return fn((text, values) => this.#connection.query(text, values));
    const client = new pg.Client(pgClientConfig(this.#url, this.#connectTimeout));
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await fn((text, values) => client.query(text, [...values]));
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Cancel the statement running on backend `pid`. */
  async cancelBackend(pid: number): Promise<void> {
    await this.#control((query) => query(CANCEL_QUERY, [pid]));
  }

  /**
   * End backend `pid` and wait until it is gone (at most `waitMs`): its transaction's outcome is
   * only final once it is.
   */
  async terminateBackend(pid: number, waitMs: number): Promise<void> {
    await this.#control(async (query) => {
      await query(TERMINATE_QUERY, [pid]);
      await poll(async () => (await query(ALIVE_QUERY, [pid])).rows.length === 0, {
        until: (gone) => gone,
        intervalMs: POLL_MS,
        timeoutMs: waitMs,
      });
    });
  }

  /** Run a query on the lock connection (for reports about other backends). */
  async query<R extends pg.QueryResultRow>(text: string, values: readonly unknown[]): Promise<R[]> {
    const { rows } = await this.#connection.query<R>(text, [...values]);
    return rows;
  }

  /**
   * Release the run lock, and end the connection when no other run uses it (or when the release
   * failed: a session whose locks are in doubt serves no one). Returns false when the lock was no
   * longer held (the connection had ended); never throws.
   */
  async close(): Promise<boolean> {
    const key = this.#held;
    let released = key === null;
    if (key !== null && !this.#lost.signal.aborted) {
      try {
        const { rows } = await this.#connection.query<{ released: boolean }>(
          'select pg_advisory_unlock($1::bigint) as released',
          [key],
        );
        released = rows[0]?.released === true;
      } catch {
        released = false;
      }
    }
    this.#closed = true;
    const connection = this.#connection;
    if (key !== null) connection.held.delete(key);
    connection.sessions.delete(this);
    if (connection.sessions.size === 0 || !released) await connection.end();
    return released;
  }
}

/** Run `fn` holding the run lock on a fresh {@link LockSession}, and release it after. */
export async function withLockSession<T>(
  url: string,
  connectTimeout: number,
  options: LockOptions,
  fn: (lock: LockSession) => Promise<T>,
): Promise<T> {
  const lock = await LockSession.open(url, connectTimeout);
  try {
    await lock.acquire(options);
    return await fn(lock);
  } finally {
    await lock.close();
  }
}
