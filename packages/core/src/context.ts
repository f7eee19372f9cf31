/** The argument of a JavaScript/TypeScript migration's `up(ctx)` and `down(ctx)`. */
import type { DatabaseTransactionConnection, sql as slonikSql } from 'slonik';

/**
 * Given to `up(ctx)` / `down(ctx)` of a `.ts`, `.mts`, `.js` or `.mjs` migration, inside the
 * worker thread.
 *
 * @example
 * ```ts
 * import type { MigrationContext } from '@offloop/core';
 *
 * export async function up({ connection, sql, progress }: MigrationContext) {
 *   await connection.query(sql.unsafe`alter table users add column email text`);
 *   progress('column added');
 * }
 * ```
 */
export type MigrationContext = {
  /** A slonik connection inside the migration's transaction (the version row commits with it). */
  readonly connection: DatabaseTransactionConnection;
  /** slonik's `sql` tag. */
  readonly sql: typeof slonikSql;
  /** Fires when the run is cancelled; long loops should check it. */
  readonly signal: AbortSignal;
  /** Send a `migration:progress` event to the host. */
  progress(message: string, counts?: { readonly done?: number; readonly total?: number }): void;
  readonly version: string;
  readonly name: string;
};

/** What a migration module exports. */
export type MigrationModule = {
  up(context: MigrationContext): Promise<void> | void;
  down?(context: MigrationContext): Promise<void> | void;
};
