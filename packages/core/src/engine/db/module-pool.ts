/**
 * The connection a JavaScript/TypeScript migration gets: slonik's, from a pool opened the first
 * time a run applies a module migration. slonik (and the OpenTelemetry it loads) is imported
 * then and only then: a run of SQL migrations, and every read-only call, never loads it.
 *
 * slonik's defaults are wrong here: a 60 s statement timeout would kill a long backfill, a 60 s
 * idle-in-transaction timeout would kill a migration that computes in JavaScript, and retrying
 * a failed transaction would run a migration's side effects twice.
 */
import type { CommonQueryMethods, DatabasePool, sql as slonikSql } from 'slonik';
import type { ResolvedConfig } from '../../config/config.ts';
import { Db, type Row } from './db.ts';
import type { Sql } from './sql.ts';

type Slonik = typeof import('slonik');

/** {@link Db} over a slonik connection; `connection` is what the module's `ctx.connection` wraps. */
export class SlonikDb extends Db {
  readonly connection: CommonQueryMethods;
  readonly sql: typeof slonikSql;
  readonly #pids: Map<string, number>;

  constructor(connection: CommonQueryMethods, sql: typeof slonikSql, pids: Map<string, number>) {
    super();
    this.connection = connection;
    this.sql = sql;
    this.#pids = pids;
  }

  override async rows<T extends Row>(query: Sql): Promise<T[]> {
    for (const value of query.values)
      if (Array.isArray(value)) throw new Error('offloop: array parameters go over pg only');
    const token = this.sql.unsafe(
      template(query.strings),
      ...(query.values as (string | number | boolean | null)[]),
    );
    const rows: readonly unknown[] = await this.connection.any(token);
    return rows as T[];
  }

  override transaction<T>(fn: (transaction: Db) => Promise<T>): Promise<T> {
    return this.connection.transaction(
      (transaction) => fn(new SlonikDb(transaction, this.sql, this.#pids)),
      0,
    );
  }

  /**
   * Keyed by slonik's `connectionId` (not part of its typed API: a connection without one is
   * looked up each time).
   */
  override async pid(): Promise<number> {
    const id = (this.connection as { connectionId?: unknown }).connectionId;
    const known = typeof id === 'string' ? this.#pids.get(id) : undefined;
    if (known !== undefined) return known;
    const pid = await this.first<number>({
      strings: ['select pg_backend_pid() as pid'],
      values: [],
    });
    if (typeof id === 'string') this.#pids.set(id, pid);
    return pid;
  }
}

/** A run's slonik pool, opened on first use, for module migrations. */
export class ModulePool {
  readonly #config: ResolvedConfig;
  readonly #setup: () => string | null;
  #pool: Promise<{ pool: DatabasePool; slonik: Slonik }> | null = null;
  readonly #pids = new Map<string, number>();

  /** `setup`: the work session's setup, run on each of the pool's sessions (`lock/work-lock.ts`). */
  constructor(config: ResolvedConfig, setup: () => string | null) {
    this.#config = config;
    this.#setup = setup;
  }

  /**
   * Open the pool and its connection now, when a run is about to apply a module: slonik loads
   * and connects before the first migration starts, not inside its time.
   */
  async ready(): Promise<void> {
    const { pool } = await this.#open();
    // Its connection too (set up as a work session): the first module starts at once.
    await pool.connect(() => Promise.resolve());
  }

  /** Run `fn` on one of the pool's connections. */
  async connect<T>(fn: (connection: SlonikDb) => Promise<T>): Promise<T> {
    const { pool, slonik } = await this.#open();
    return pool.connect((connection) => fn(new SlonikDb(connection, slonik.sql, this.#pids)));
  }

  async close(): Promise<void> {
    const opened = this.#pool;
    this.#pool = null;
    const current = await opened?.catch(() => null);
    await current?.pool.end();
  }

  #open(): Promise<{ pool: DatabasePool; slonik: Slonik }> {
    this.#pool ??= this.#create();
    return this.#pool;
  }

  async #create(): Promise<{ pool: DatabasePool; slonik: Slonik }> {
    const slonik = await import('slonik');
    const config = this.#config;
    const ready = new Set<string>();
    const setUp = async (query: (text: string) => Promise<unknown>) => {
      const setup = this.#setup();
      if (setup !== null) await query(setup);
    };
    const pool = await slonik.createPool(config.url, {
      maximumPoolSize: 1,
      minimumPoolSize: 0,
      statementTimeout: config.statementTimeout > 0 ? config.statementTimeout : 'DISABLE_TIMEOUT',
      idleInTransactionSessionTimeout: 'DISABLE_TIMEOUT',
      transactionRetryLimit: 0,
      queryRetryLimit: 0,
      connectionRetryLimit: 0,
      connectionTimeout: config.connectTimeout,
      idleTimeout: 'DISABLE_TIMEOUT',
      captureStackTrace: false,
      // A module's session state must not reach the next migration: reset, then the work
      // session's setup again (DISCARD ALL drops its lock).
      resetConnection: async ({ query }) => {
        await query('DISCARD ALL');
        await setUp(query);
      },
      interceptors: [
        {
          name: 'offloop-work-session',
          afterPoolConnection: async (context, connection) => {
            if (ready.has(context.connectionId)) return null;
            await setUp((text) => connection.query(slonikRaw(slonik, text)));
            ready.add(context.connectionId);
            return null;
          },
        },
      ],
    });
    return { pool, slonik };
  }
}

/**
 * A template strings array from strings: slonik's tag refuses anything that is not a template
 * literal's, and these are one's parts, kept as they were written.
 */
function template(strings: readonly string[]): TemplateStringsArray {
  const raw = Object.freeze([...strings]);
  return Object.freeze(Object.assign([...strings], { raw }));
}

/** Trusted SQL text as a slonik query. */
function slonikRaw(slonik: Slonik, text: string) {
  return slonik.sql.unsafe(template([text]));
}
