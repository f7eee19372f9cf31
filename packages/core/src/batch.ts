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
import type { ResolvedConfig } from './config.ts';

/** How a batch ended: every statement completed, or an error after `completed` statements. */
export type BatchOutcome = { readonly ok: true } | { readonly ok: false; readonly error: unknown; readonly completed: number };

/**
 * One query of several statements, counting what completes. A pg "submittable": the client
 * hands it the protocol messages of its query. Rows are dropped, never accumulated.
 */
class CountingQuery {
  completed = 0;
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
  handleDataRow(): void {}
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
    this.settle({ ok: true });
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
  private broken = false;
  /** The reset after the last batch, sent without waiting for it (the client queues queries in order). */
  private reset: Promise<unknown> = Promise.resolve();

  private readonly config: Pick<ResolvedConfig, 'url' | 'connectTimeout'>;

  constructor(config: Pick<ResolvedConfig, 'url' | 'connectTimeout'>) {
    this.config = config;
  }

  /** Connect if needed; the backend's pid (from the startup handshake, no round trip). */
  async open(): Promise<number> {
    if (this.client === null || this.broken) {
      await this.close();
      const client = new pg.Client({ connectionString: this.config.url, connectionTimeoutMillis: this.config.connectTimeout });
      // A connection that drops is reported through the query in flight; an idle one only
      // needs to be replaced.
      client.on('error', () => {
        this.broken = true;
      });
      await client.connect();
      this.client = client;
      this.broken = false;
    }
    // Set from BackendKeyData during the handshake; missing from pg's type declarations.
    return (this.client as unknown as { processID?: number }).processID ?? 0;
  }

  /** Send `text` as one query. After a failure the transaction is rolled back. */
  async run(text: string): Promise<BatchOutcome> {
    await this.open();
    const client = this.client;
    if (client === null) throw new Error('BatchSession.run: not connected');
    const query = new CountingQuery(text);
    void client.query(query as unknown as pg.QueryConfig);
    const outcome = await query.done;
    if (!outcome.ok) {
      // A failed `begin ... commit` leaves the session in an aborted transaction (unless the
      // commit itself failed, which ends it): roll back so that the session is clean.
      await client.query('rollback').catch(() => {
        this.broken = true;
      });
    }
    // What a migration set for its session (a plain `set`, `set role`, temporary tables) must
    // not reach the next one, as with a pooled connection. Not awaited: the round trip overlaps
    // with the work between migrations, and the next batch queues behind it.
    this.reset = client.query('discard all').catch(() => {
      this.broken = true;
    });
    return outcome;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client === null) return;
    await this.reset;
    await client.end().catch(() => undefined);
  }
}
