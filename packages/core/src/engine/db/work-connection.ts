/**
 * {@link WorkConnection}: the one connection a run reads the ledger and applies SQL migrations
 * on, a plain `pg` client (the run lock has its own, `lock/lock.ts`; a JavaScript/TypeScript
 * migration gets slonik's, `module-pool.ts`). Opened once, at the start of the run, beside the
 * lock's; opened again only if it breaks. No `DISCARD ALL` after every query, no throwaway
 * connection: a no-op run costs one connection and a few round trips.
 *
 * A transactional SQL migration goes as one query (`begin`, its settings, its statements, the
 * version-table and log rows and `commit` in a single simple-protocol message): one round trip
 * instead of one per statement. The statements were split and checked by the parser before
 * (see `split.ts`), so their boundaries are known; when PostgreSQL stops at one, the count of
 * `CommandComplete` messages that came back before the error says which.
 *
 * After each migration the session is reset (`DISCARD ALL`, then the work session's setup
 * again): what a migration set for its session (a plain `set`, `set role`, temporary tables)
 * must not reach the next one, nor offloop's own queries.
 *
 * The session's `search_path` (the configured `schema` first, `searchPathFor`) is set in a
 * round trip the connection makes anyway: the one that connects (asking its backend's pid), the
 * one that retags a kept connection for another call, the reset after a migration.
 */
import pg from 'pg';
import type { ResolvedConfig } from '../../config/config.ts';
import { CountingQuery, type BatchOutcome } from './counting-query.ts';
import { Db, type Row } from './db.ts';
import { pgClientConfig } from './pg-client.ts';
import { inTransaction, type Connected } from './transaction-db.ts';
import { toPg, type Sql } from './sql.ts';
import { setSearchPath } from '../../sql/settings.ts';

/** What a {@link WorkConnection} needs to know. */
export type WorkConnectionConfig = Pick<
  ResolvedConfig,
  'url' | 'connectTimeout' | 'statementTimeout'
> & {
  /**
   * The session's `search_path` (a value from `searchPathFor`); null to leave the server's (a
   * connection through a pooler, where session state outlives the session, see `session.ts`).
   */
  readonly searchPath: string | null;
};

/**
 * What `DISCARD ALL` does, statement by statement (PostgreSQL's documentation lists them), as
 * one query that the work session's setup can follow in the same round trip: `DISCARD ALL`
 * itself refuses to run in a multi-statement query's implicit transaction.
 */
const RESET_SESSION =
  'close all; set session authorization default; reset all; deallocate all; unlisten *; ' +
  'select pg_advisory_unlock_all(); discard plans; discard temp; discard sequences';

/** The statements of {@link RESET_SESSION}. */
const RESET_STATEMENTS = RESET_SESSION.split(';').length;

/** The socket under a `pg` client (not part of its typed API), if it has one. */
function socketOf(
  client: pg.Client,
): { ref?(): void; unref?(): void; destroy(): void } | undefined {
  return (client as unknown as { connection?: { stream?: ReturnType<typeof socketOf> } }).connection
    ?.stream;
}

/** How long the check that a connection can be kept may take (it is one `discard all`). */
const REUSE_CHECK_MS = 2_000;

/** A connected client and what is known about its backend and server. */
type Live = Connected & { broken: boolean; readonly serverVersion: number };

/** The run's work connection. See the module's comment. */
export class WorkConnection extends Db {
  #config: WorkConnectionConfig;
  /**
   * An `application_name` to set before the next query, with the session's `search_path`: the
   * connection serves another call.
   */
  #retag: string | null = null;
  /** The work session's setup (`lock/work-lock.ts`), once {@link WorkConnection.startWork} was called. */
  #setup: string | null = null;
  #live: Promise<Live> | null = null;
  /** The reset after the last migration, not awaited when sent (the client runs queries in order). */
  #reset: Promise<unknown> = Promise.resolve();
  /**
   * A reset owed since the last migration and not sent yet: the next migration's batch carries
   * it ahead of its own text (one round trip less per migration); anything else sends it first.
   */
  #resetOwed = false;
  /** Settles when the transaction open now ends: queries from outside wait for it. */
  #inTransaction: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(config: WorkConnectionConfig) {
    super();
    this.#config = config;
  }

  /** Start connecting now (a run overlaps it with taking the lock); failures surface on first use. */
  open(): void {
    this.#connection().catch(() => undefined);
  }

  /**
   * From now on the session is a work session: set up now if connected, and after every reset
   * or reconnect. Called once the run holds its lock, never before: a waiting runner must not
   * look like a working one.
   */
  async startWork(setup: string): Promise<void> {
    const live = await this.#ready();
    this.#setup = setup;
    await live.client.query(setup);
  }

  override async rows<T extends Row>(query: Sql): Promise<T[]> {
    await this.#inTransaction;
    return this.#rowsOn(await this.#ready(), query);
  }

  override async serverVersionNum(): Promise<number> {
    const known = (await this.#ready()).serverVersion;
    return known > 0 ? known : super.serverVersionNum();
  }

  override async pid(): Promise<number> {
    return (await this.#ready()).pid;
  }

  override async transaction<T>(fn: (transaction: Db) => Promise<T>): Promise<T> {
    await this.#inTransaction;
    const live = await this.#ready();
    let ended!: () => void;
    this.#inTransaction = new Promise((resolve) => (ended = resolve));
    try {
      return await inTransaction(live, (query) => this.#rowsOn(live, query), fn, 0);
    } finally {
      ended();
    }
  }

  /**
   * Make the session ready for the next migration: the previous reset done, connected (again,
   * if the connection broke or a reset failed). Returns the backend's pid, which cancels go to.
   */
  async prepare(): Promise<number> {
    await this.#inTransaction;
    return (await this.#ready(true)).pid;
  }

  /**
   * Send `text` as one query on the prepared session. Settles as soon as the server answered;
   * after a failure, call {@link WorkConnection.recover} before anything else.
   */
  async batch(text: string): Promise<BatchOutcome> {
    const live = this.#live === null ? null : await this.#live.catch(() => null);
    if (live === null || live.broken)
      return {
        ok: false,
        error: new Error('The migration connection was lost before the migration was sent.'),
        completed: 0,
      };
    // The reset the last migration owes runs ahead of this one's `begin`, in the same query: a
    // multi-statement query's implicit transaction becomes the migration's at its `begin` (what
    // the reset undoes is then undone with a migration that fails, whose recovery resets again).
    const ahead = this.#resetOwed ? this.#resetText() : null;
    this.#resetOwed = false;
    const query =
      ahead === null
        ? new CountingQuery(text)
        : new CountingQuery(`${ahead.text}; ${text}`, {
            statements: ahead.statements,
            length: ahead.text.length + 2,
          });
    void live.client.query(query as unknown as pg.QueryConfig);
    const outcome = await query.done;
    if (outcome.ok) this.resetSession();
    return outcome;
  }

  /**
   * After a failed batch: roll back (a failed `begin ... commit` leaves the session in an aborted
   * transaction, unless the commit itself failed, which ends it), then reset the session.
   */
  async recover(): Promise<void> {
    const live = this.#live === null ? null : await this.#live.catch(() => null);
    if (live === null || live.broken) return;
    await live.client.query('rollback').catch(() => {
      live.broken = true;
    });
    this.resetSession();
  }

  /**
   * Reset what a migration set for its session. Not awaited: the round trip overlaps with the
   * work between migrations, and the next query waits for it.
   */
  resetSession(): void {
    if (this.#live !== null) this.#resetOwed = true;
  }

  /** The reset, and the setup it drops and takes again, with its count of statements. */
  #resetText(): { text: string; statements: number } {
    // The reset also drops the work lock and the session settings: set them up again, in the
    // same round trip (the setup is one statement).
    const setup = this.#setup ?? this.#sessionSetup();
    return setup === null
      ? { text: RESET_SESSION, statements: RESET_STATEMENTS }
      : { text: `${RESET_SESSION}; ${setup}`, statements: RESET_STATEMENTS + 1 };
  }

  /** Send a reset the last migration owes on its own, when something other than a migration comes next. */
  #payReset(): void {
    if (!this.#resetOwed) return;
    this.#resetOwed = false;
    const live = this.#live;
    if (live === null) return;
    const { text } = this.#resetText();
    this.#reset = live.then(async (current) => {
      if (current.broken) return;
      try {
        await current.client.query(text);
      } catch {
        current.broken = true;
      }
    });
  }

  /**
   * Serve another call, whose `config` differs at most in the URL's `application_name` (the
   * call's tag, by which the host finds its backends: `@offloop/worker`'s application-name.ts)
   * and its `search_path`.
   */
  adopt(config: WorkConnectionConfig): void {
    this.#config = config;
    this.#retag = pgClientConfig(config.url, config.connectTimeout).application_name ?? '';
  }

  /**
   * Whether an idle connection keeps the process (or thread) alive: a kept connection must not
   * (`kept-connections.ts`). The socket is `pg`'s, not part of its typed API.
   */
  hold(held: boolean): void {
    void this.#live?.then(
      (live) => {
        const socket = socketOf(live.client);
        if (held) socket?.ref?.();
        else socket?.unref?.();
      },
      () => undefined,
    );
  }

  /**
   * Whether this connection can serve a later call: connected, healthy, out of any transaction,
   * and back to a plain session (a work session's lock and settings dropped).
   */
  async reusable(): Promise<boolean> {
    if (this.#closed || this.#live === null) return false;
    // Bounded: a connection that stopped answering after the call (the network, the server) must
    // neither hold up the call that succeeded nor be kept; its socket is dropped.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), REUSE_CHECK_MS);
    });
    const reusable = await Promise.race([this.#cleanForReuse(), late]);
    clearTimeout(timer);
    if (!reusable) await this.#drop();
    return reusable;
  }

  async #cleanForReuse(): Promise<boolean> {
    await this.#inTransaction;
    this.#payReset();
    await this.#reset.catch(() => undefined);
    const live = await this.#live?.catch(() => null);
    if (live === null || live === undefined || live.broken) return false;
    if (this.#setup === null) return true;
    this.#setup = null;
    try {
      await live.client.query('discard all');
      return !live.broken;
    } catch {
      return false;
    }
  }

  /** Close the socket at once, whatever is in flight on it (the socket is `pg`'s, not its typed API). */
  async #drop(): Promise<void> {
    const live = await this.#live?.catch(() => null);
    if (live === null || live === undefined) return;
    live.broken = true;
    socketOf(live.client)?.destroy();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#resetOwed = false;
    const live = this.#live;
    this.#live = null;
    if (live === null) return;
    await this.#reset.catch(() => undefined);
    const current = await live.catch(() => null);
    await current?.client.end().catch(() => undefined);
  }

  /**
   * The live connection once the last reset is done (sent now if it is owed, unless the next
   * migration's batch is to carry it: `owedResetRides`), replaced if it broke.
   */
  async #ready(owedResetRides = false): Promise<Live> {
    if (!owedResetRides) this.#payReset();
    await this.#reset.catch(() => undefined);
    let live = await this.#connection();
    if (live.broken) {
      // A new session owes no reset.
      this.#resetOwed = false;
      this.#live = null;
      await live.client.end().catch(() => undefined);
      live = await this.#connection();
    }
    const retag = this.#retag;
    if (retag !== null) {
      this.#retag = null;
      // A kept connection's first query of a new call. The server may have ended it while it
      // idled (a restart, idle_session_timeout) before the client noticed: then this call gets
      // a new connection instead of the failure.
      // A null search_path is the server's default (what `reset` would give): the last call
      // may have set another.
      try {
        await live.client.query(
          "select set_config('application_name', $1, false), set_config('search_path', " +
            "coalesce($2, (select reset_val from pg_settings where name = 'search_path')), false)",
          [retag, this.#config.searchPath],
        );
      } catch {
        this.#live = null;
        await live.client.end().catch(() => undefined);
        live = await this.#connection();
      }
    }
    return live;
  }

  #connection(): Promise<Live> {
    if (this.#closed) return Promise.reject(new Error('The work connection is closed.'));
    this.#live ??= this.#connect();
    const connecting = this.#live;
    // A failed connect is not kept: the next use tries again.
    connecting.catch(() => {
      if (this.#live === connecting) this.#live = null;
    });
    return connecting;
  }

  async #connect(): Promise<Live> {
    const { url, connectTimeout, statementTimeout } = this.#config;
    const client = new pg.Client({
      ...pgClientConfig(url, connectTimeout),
      ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    });
    // A connection that drops is reported through the query in flight; an idle one only needs
    // to be replaced.
    const live: { client: pg.Client; pid: number; broken: boolean; serverVersion: number } = {
      client,
      pid: 0,
      broken: false,
      serverVersion: 0,
    };
    client.on('error', () => {
      live.broken = true;
    });
    client.on('end', () => {
      live.broken = true;
    });
    try {
      await client.connect();
      // Asked, not taken from the handshake: behind a pooler the handshake's process id is the
      // pooler's cancel key, not a backend that pg_cancel_backend can reach. The work session's
      // setup (or, before it, the session's search_path) rides in the same round trip, and so
      // does the server's version (for lint), asked once per connection.
      const setup = this.#setup ?? this.#sessionSetup();
      const before = setup === null ? '' : `${setup}; `;
      const result = await client.query<{ pid: number }>(
        `${before}select pg_backend_pid() as pid, ` +
          "current_setting('server_version_num')::int as version",
      );
      const rows = Array.isArray(result) ? (result.at(-1) as pg.QueryResult).rows : result.rows;
      const row = rows[0] as { pid?: number; version?: number } | undefined;
      live.pid = row?.pid ?? 0;
      live.serverVersion = row?.version ?? 0;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return live;
  }

  /** The statement that sets the session's `search_path` outside work (the work setup sets it too). */
  #sessionSetup(): string | null {
    const { searchPath } = this.#config;
    return searchPath === null ? null : `select ${setSearchPath(searchPath)}`;
  }

  async #rowsOn<T extends Row>(live: Live, query: Sql): Promise<T[]> {
    const { text, values } = toPg(query);
    const result = await live.client.query<T>(text, values as unknown[]);
    return result.rows;
  }
}

/** One connection to `url` (no statement timeout) for `fn`, ended after it. */
export async function withConnection<T>(
  url: string,
  connectTimeout: number,
  fn: (db: Db) => Promise<T>,
): Promise<T> {
  const connection = new WorkConnection({
    url,
    connectTimeout,
    statementTimeout: 0,
    searchPath: null,
  });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}
