/**
 * {@link Db}: how the engine sends its own queries, whatever carries them. The work connection
 * (`work-connection.ts`, plain `pg`) carries them in every run; slonik's connection carries them
 * inside a JavaScript/TypeScript migration's transaction (`module-pool.ts`), where the version and
 * log rows must commit with the module's work.
 */
import { raw, type Sql } from './sql.ts';

/** A row as the driver returns it: column name to value. */
export type Row = Record<string, unknown>;

export abstract class Db {
  /** Every row `query` returns. */
  abstract rows<T extends Row>(query: Sql): Promise<T[]>;

  /**
   * Run `fn` in a transaction on this connection: committed when it resolves, rolled back when
   * it rejects. Inside a transaction, a savepoint. Never retried.
   */
  abstract transaction<T>(fn: (transaction: Db) => Promise<T>): Promise<T>;

  /**
   * The backend pid behind this connection, for cancels and the `migration:backend` event: asked
   * of the server (behind a pooler the handshake's process id is the pooler's cancel key).
   */
  abstract pid(): Promise<number>;

  /** The server's `server_version_num` (150004 for 15.4). */
  async serverVersionNum(): Promise<number> {
    return this.first<number>(raw("select current_setting('server_version_num')::int as version"));
  }

  /** Run `query` for its effect. */
  async run(query: Sql): Promise<void> {
    await this.rows(query);
  }

  /** The only row `query` returns; throws when it returns none or several. */
  async one<T extends Row>(query: Sql): Promise<T> {
    const rows = await this.rows<T>(query);
    const [row] = rows;
    if (rows.length !== 1 || row === undefined)
      throw new Error(`expected one row, got ${rows.length}: ${query.strings.join('?')}`);
    return row;
  }

  /** The first column of the only row `query` returns. */
  async first<T>(query: Sql): Promise<T> {
    return firstColumn<T>(await this.one(query));
  }

  /** The first column of every row. */
  async column<T>(query: Sql): Promise<T[]> {
    return (await this.rows(query)).map((row) => firstColumn<T>(row));
  }

  /** Whether `query` returns a row. */
  async exists(query: Sql): Promise<boolean> {
    return (await this.rows(query)).length > 0;
  }
}

function firstColumn<T>(row: Row): T {
  return Object.values(row)[0] as T;
}
