/**
 * A migration checked and ready to run: its SQL split into statements, or its module imported.
 * Made by the engine (`engine/prepare/`), read by the planner's checks and the offline script.
 */
import type { MigrationModule } from './migration-context.ts';
import type { MigrationFile, SectionOptions } from './migration.ts';

/** One statement of a SQL section, with where it sits in its file. */
export type Statement = {
  /** The statement's text, without the terminating semicolon. */
  readonly sql: string;
  /** Character offset of the statement's first token in the file. */
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  /** The parse node's type, e.g. `CreateStmt`, `IndexStmt`. */
  readonly kind: string;
  /** The parse node's body, for rules about statements (see `transaction-rules.ts`). */
  readonly node: unknown;
};

/** A migration checked and ready to run in one direction. */
export type Prepared = {
  readonly migration: MigrationFile;
  readonly direction: 'up' | 'down';
  readonly options: SectionOptions;
} & (
  | { readonly statements: readonly Statement[] }
  | { readonly run: NonNullable<MigrationModule['down']> }
);
