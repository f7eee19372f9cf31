/**
 * {@link CountingQuery}: one query of several statements (a migration's batch, see
 * `work-connection.ts`), which counts the statements that completed, so that when PostgreSQL stops
 * at one, the count of `CommandComplete` messages before the error says which.
 */

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
export class CountingQuery {
  completed = 0;
  /** Statements of a reset sent ahead of the text (see {@link WorkConnection.batch}). */
  private readonly ahead: number;
  /** Characters of that reset and its separator, before the text. */
  private readonly offset: number;
  private last: string | null = null;
  private settled = false;
  readonly done: Promise<BatchOutcome>;
  private resolve!: (outcome: BatchOutcome) => void;

  private readonly text: string;

  constructor(text: string, ahead: { statements: number; length: number } = NOTHING_AHEAD) {
    this.text = text;
    this.ahead = ahead.statements;
    this.offset = ahead.length;
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }

  handleRowDescription(): void {}
  handleDataRow(row: { readonly fields: readonly unknown[] }): void {
    if (this.completed < this.ahead) return;
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
    // Counts and positions are the text's own, not the reset's ahead of it.
    const withPosition = error as { position?: unknown };
    if (this.offset > 0 && typeof withPosition.position === 'string') {
      const position = Number(withPosition.position) - this.offset;
      withPosition.position = position > 0 ? String(position) : undefined;
    }
    this.settle({ ok: false, error, completed: Math.max(0, this.completed - this.ahead) });
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

const NOTHING_AHEAD = { statements: 0, length: 0 };
