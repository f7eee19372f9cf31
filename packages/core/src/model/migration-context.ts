/** The argument of a JavaScript/TypeScript migration's `up(ctx)` and `down(ctx)`. */
import type { CommonQueryMethods, sql as slonikSql } from 'slonik';
import type { SectionOptions } from './migration.ts';

/**
 * Given to `up(ctx)` / `down(ctx)` of a `.ts`, `.mts`, `.cts`, `.js`, `.mjs` or `.cjs`
 * migration, inside the worker thread.
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
  /**
   * A slonik connection: inside the migration's transaction (the version row commits with it),
   * or, for a migration exporting `transaction = false`, a plain session.
   */
  readonly connection: CommonQueryMethods;
  /** slonik's `sql` tag. */
  readonly sql: typeof slonikSql;
  /** Fires when the run is cancelled; long loops should check it. */
  readonly signal: AbortSignal;
  /** Send a `migration:progress` event to the host. */
  progress(message: string, counts?: { readonly done?: number; readonly total?: number }): void;
  readonly version: string;
  readonly name: string;
};

/**
 * What a migration module exports: `up`, optionally `down`, and optionally
 * `transaction` (boolean, default true), `lockTimeout` and `statementTimeout` (durations such
 * as `'5s'`, or milliseconds), and `lockRetries` (how many times offloop calls `up` again, in a
 * new transaction, after a lock timeout; 0 opts out).
 */
export type MigrationModuleExports = {
  up(context: MigrationContext): Promise<void> | void;
  down?(context: MigrationContext): Promise<void> | void;
  transaction?: boolean;
  lockTimeout?: string | number;
  statementTimeout?: string | number;
  lockRetries?: number;
};

/** A loaded migration module, its options validated. */
export type MigrationModule = {
  readonly up: (context: MigrationContext) => Promise<void> | void;
  readonly down: ((context: MigrationContext) => Promise<void> | void) | undefined;
  readonly options: SectionOptions;
};
