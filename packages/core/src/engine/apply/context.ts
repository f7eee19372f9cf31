/** What applying one migration needs from its run, and where it stands while it runs. */
import type { ResolvedConfig } from '../../config/config.ts';
import type { MigrationResult } from '../../errors/index.ts';
import type { ProgressEvent } from '../../model/events.ts';
import type { LogEntry } from '../../model/migration.ts';
import type { Statement } from '../../model/prepared.ts';
import type { LockWait } from '../db/backends.ts';
import type { Db } from '../db/db.ts';
import type { VersionTable } from '../../sql/ddl.ts';
import type { TransactionControlRefused } from './guarded-connection.ts';

/** What applying needs from the run. */
export type ApplyContext = {
  readonly config: ResolvedConfig;
  /** Where the run's version and log tables are (`migrationsSchema`). */
  readonly versionTable: VersionTable;
  /**
   * The `search_path` each migration sets for itself (`set local` in its transaction; `set`, then
   * restored, around a non-transactional one), as a value; null when the work sessions already
   * have it. Set only with `lockUrl`: the work then goes through a pooler, where no session
   * state is set (see `session.ts`).
   */
  readonly searchPath: string | null;
  readonly appliedBy: string;
  readonly emit: (event: ProgressEvent) => Promise<void> | void;
  /** The run's signal: the caller's abort. */
  readonly signal: AbortSignal | undefined;
  /** Waits for a `serial` migration's turn across a fleet (see `EngineOptions.serial`). */
  readonly serial?: ((version: string) => Promise<() => void>) | undefined;
  /**
   * The run's own work connection: where a failure's log row goes when the migration's
   * connection is gone (a module's, terminated to stop it).
   */
  readonly logFallback?: Db | undefined;
  /** Fires when the run lock's connection ends (`lock.ts`): the run must stop and commit nothing more. */
  readonly lockLost: AbortSignal;
  /** Cancel the statement running on backend `pid` (from another connection). */
  readonly cancelBackend: (pid: number) => Promise<void>;
  /** End backend `pid` (from another connection) and wait until it is gone. */
  readonly terminateBackend: (pid: number) => Promise<void>;
  /**
   * What backend `pid` waits for, if it waits for a lock (from another connection), for the
   * `migration:blocked` event; null when it is not waiting for one.
   */
  readonly describeLockWait?: ((pid: number) => Promise<LockWait | null>) | undefined;
  /** What this run finished before, for errors. */
  readonly done: readonly MigrationResult[];
  /**
   * An earlier run of this non-transactional migration that failed midway and is unresolved (its
   * file changed since, so this run tries again): a failure now still leaves that work behind.
   */
  readonly earlierFailure?: ((version: string) => LogEntry | undefined) | undefined;
  /**
   * Set when the whole run is one transaction (`singleTransaction`): a failure rolls back every
   * migration of the run, and each migration's timeouts are set from these values when it sets
   * none (a `set local` in one migration's savepoint would otherwise last into the next ones).
   */
  readonly singleTransaction?:
    | {
        readonly lockTimeout: string;
        readonly statementTimeout: string;
        readonly rolledBack: number;
      }
    | undefined;
};

/** Where a run stands inside one migration, for error reports. */
export type Position = {
  statement: Statement | null;
  index: number;
  completed: number;
  /** INVALID indexes on the table of a concurrent index build, before it started. */
  invalidBefore?: ReadonlySet<string>;
  /** The last lock wait seen while the current statement ran (who held it up), if any. */
  lockWait?: LockWait | undefined;
  /** Transaction control a transactional module tried (and was refused), if any. */
  refused?: TransactionControlRefused | undefined;
};

/** The duration a migration's version and log rows were given, once it recorded them. */
export type Recorded = { durationMs: number | null };
