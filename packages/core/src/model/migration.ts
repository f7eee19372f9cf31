/** The migration model: what discovery finds on disk and what the version table records. */

/** Options on a SQL marker line (`-- migrate:up transaction:false`). */
export type SectionOptions = {
  /** Run inside a transaction with the version row. @default true */
  readonly transaction: boolean;
  /** PostgreSQL `lock_timeout` for this section's statements, in ms; null uses the config's. */
  readonly lockTimeout: number | null;
  /** PostgreSQL `statement_timeout` for this section's statements, in ms; null uses the config's. */
  readonly statementTimeout: number | null;
  /**
   * How many times to retry after a lock timeout (`lock_retries:<n>` on the marker line, a
   * module's `lockRetries`); null uses the config's `lockRetries`, 0 turns retries off.
   */
  readonly lockRetries: number | null;
  /**
   * In a fleet, run this migration on one target at a time (`serial:true` on the marker line, a
   * module's `serial`): a heavy backfill that would load a shared server if every target in
   * flight ran it at once. Outside a fleet it changes nothing. @default false
   */
  readonly serial: boolean;
};

/** One section (`up` or `down`) of a SQL migration. */
export type SqlSection = {
  /** The section's SQL, without its marker line. */
  readonly sql: string;
  /** Character offset of `sql` within the file, to map positions back to file lines. */
  readonly offset: number;
  readonly options: SectionOptions;
};

type MigrationFileBase = {
  /** `YYYYMMDDHHMMSS`. */
  readonly version: string;
  /** The part of the file name after the version, without extension. */
  readonly name: string;
  /** File name relative to the migrations directory. */
  readonly file: string;
  /** Absolute path. */
  readonly path: string;
  /** sha256 of the file's bytes, hex. */
  readonly checksum: string;
};

/** A `.sql` migration with dbmate-style sections. */
export type SqlMigrationFile = MigrationFileBase & {
  readonly kind: 'sql';
  /** The whole file text, for mapping offsets to lines. */
  readonly source: string;
  readonly up: SqlSection;
  readonly down: SqlSection | null;
};

/** A `.ts`, `.mts`, `.cts`, `.js`, `.mjs` or `.cjs` migration exporting `up(ctx)`; imported only in the worker. Its options come from its exports once imported. */
export type ModuleMigrationFile = MigrationFileBase & { readonly kind: 'module' };

/** A migration file found on disk. */
export type MigrationFile = SqlMigrationFile | ModuleMigrationFile;

/** An entry of the log table: something that happened to a migration. */
export type LogEntry = {
  readonly id: number;
  readonly version: string;
  readonly name: string;
  readonly direction:
    'up' | 'down' | 'stamp' | 'unstamp' | 'repair-checksum' | 'repair-forget' | 'repair-resolve';
  readonly checksum: string | null;
  /**
   * `succeeded`; `failed` (rolled back, or nothing ran: nothing left); `partial` (a
   * non-transactional migration that failed midway and left part of its work); `started` (a
   * non-transactional migration began: followed by its outcome, unless the run died midway).
   */
  readonly outcome: 'succeeded' | 'failed' | 'partial' | 'started';
  readonly appliedBy: string;
  /** ISO 8601. */
  readonly at: string;
  readonly durationMs: number | null;
  /** For failures: the error code and message; for partial runs, how many statements ran. */
  readonly error: string | null;
  readonly statementsRun: number | null;
  /**
   * How many attempts an `up` or `down` took: 1, or more after lock timeouts it retried (in a
   * non-transactional migration, counted over its statements). Null for other entries, and for
   * entries written before offloop recorded it.
   */
  readonly attempts: number | null;
};

/** A row of the version table. */
export type AppliedMigration = {
  readonly version: string;
  readonly name: string;
  readonly checksum: string;
  /** ISO 8601. */
  readonly appliedAt: string;
  readonly durationMs: number;
  readonly appliedBy: string;
};
