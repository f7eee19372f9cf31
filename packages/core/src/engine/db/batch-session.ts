/**
 * A session that sends a transactional SQL migration as one query: `begin`, its settings, its
 * statements, the version-table and log rows and `commit` in a single simple-protocol message,
 * so a migration costs one round trip instead of one per statement (slonik speaks only the
 * extended protocol, one statement per query).
 *
 * The statements were split and checked by the parser before (see `split.ts`), so their
 * boundaries are known; when PostgreSQL stops at one, the count of `CommandComplete` messages
 * that came back before the error says which.
 */
import pg from 'pg';
import type { ResolvedConfig } from '../../config/config.ts';
import { pgClientConfig } from './pg-client.ts';

/**
 * How a batch ended: every statement completed, or an error after `completed` statements. `last`
 * is the first column of the last row any statement returned (text, as the server sent it).
 */
export type BatchOutcome =
  | { readonly ok: true; readonly last: string | null }
  | { readonly ok: false; readonly error: unknown; readonly completed: number };

/**
 * One query of several statements, counting what completes. A pg "submittable": the client
 * hands it the protocol messages of its query. Rows are dropped, never accumulated: only the
 * first value of the last one is kept.
 */
class CountingQuery {
  completed = 0;
  private last: string | null = null;
  private settled = false;
  readonly done: Promise<BatchOutcome>;
  private resolve!: (outcome: BatchOutcome) => void;

  private readonly text: string;

  constructor(text: string) {
    this.text = text;
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }

  handleRowDescription(): void {}
  handleDataRow(row: { readonly fields: readonly unknown[] }): void {
    const [value] = row.fields;
    this.last = typeof value === 'string' ? value : null;
  }
  handlePortalSuspended(): void {}
  handleEmptyQuery(): void {}
  handleCommandComplete(): void {
    this.completed += 1;
  }

  handleCopyInResponse(connection: { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('offloop: COPY ... FROM STDIN has no data source in a migration file');
  }

  handleCopyData(): void {}

  /** A server error (ReadyForQuery follows) or a broken connection (nothing follows). */
  handleError(error: unknown): void {
    this.settle({ ok: false, error, completed: this.completed });
  }

  handleReadyForQuery(): void {
    this.settle({ ok: true, last: this.last });
  }

  private settle(outcome: BatchOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(outcome);
  }
}

/** A dedicated connection for batched migrations, opened on first use. */
export class BatchSession {
  private client: pg.Client | null = null;
  private pid = 0;
  private broken = false;
  /** The reset after the last batch, sent without waiting for it (the client queues queries in order). */
  private reset: Promise<unknown> = Promise.resolve();

  private readonly config: Pick<ResolvedConfig, 'url' | 'connectTimeout'>;
  /** Run on every new connection and after every reset: the work session's setup (`work-lock.ts`). */
  private readonly setup: string | null;

  constructor(config: Pick<ResolvedConfig, 'url' | 'connectTimeout'>, setup: string | null = null) {
    this.config = config;
    this.setup = setup;
  }

  /**
   * Make the session ready for the next batch: the previous reset done, connected (again, if the
   * connection broke or a reset failed). Returns the backend's pid, which cancels go to.
   */
  async prepare(): Promise<number> {
    // A failed reset marks the session broken: it must be seen before the next batch runs on it.
    await this.reset;
    if (this.client === null || this.broken) {
      await this.close();
      const client = new pg.Client(pgClientConfig(this.config.url, this.config.connectTimeout));
      // A connection that drops is reported through the query in flight; an idle one only
      // needs to be replaced. Errors of a client already replaced are not this session's.
      client.on('error', () => {
        if (this.client === client) this.broken = true;
      });
      await client.connect();
      if (this.setup !== null) await client.query(this.setup);
      // Asked, not taken from the handshake: behind a pooler the handshake's process id is the
      // pooler's cancel key, not a backend that pg_cancel_backend can reach.
      const result = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
      this.client = client;
      this.pid = result.rows[0]?.pid ?? 0;
      this.broken = false;
    }
    return this.pid;
  }

  /**
   * Send `text` as one query on the prepared session. Settles as soon as the server answered;
   * after a failure, call {@link BatchSession.recover} before anything else.
   */
  async run(text: string): Promise<BatchOutcome> {
    const client = this.client;
    if (client === null || this.broken)
      return {
        ok: false,
        error: new Error('The migration connection was lost before the migration was sent.'),
        completed: 0,
      };
    const query = new CountingQuery(text);
    void client.query(query as unknown as pg.QueryConfig);
    const outcome = await query.done;
    if (outcome.ok) this.resetSession(client);
    return outcome;
  }

  /**
   * After a failed batch: roll back (a failed `begin ... commit` leaves the session in an aborted
   * transaction, unless the commit itself failed, which ends it), then reset the session.
   */
  async recover(): Promise<void> {
    const client = this.client;
    if (client === null || this.broken) return;
    await client.query('rollback').catch(() => {
      this.broken = true;
    });
    this.resetSession(client);
  }

  /**
   * What a migration set for its session (a plain `set`, `set role`, temporary tables) must not
   * reach the next one, as with a pooled connection. Not awaited here: the round trip overlaps
   * with the work between migrations, and {@link BatchSession.prepare} waits for it.
   */
  private resetSession(client: pg.Client): void {
    // DISCARD ALL also drops the work lock and the session settings: set them up again (two
    // queries: DISCARD ALL refuses to run inside the implicit transaction of a multi-statement one).
    const reset = client.query('discard all');
    const setup = this.setup === null ? reset : client.query(this.setup);
    this.reset = Promise.all([reset, setup]).then(
      () => undefined,
      () => {
        this.broken = true;
      },
    );
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client === null) return;
    await this.reset;
    await client.end().catch(() => undefined);
  }
}
