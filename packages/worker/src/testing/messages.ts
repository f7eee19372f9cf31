/**
 * What crosses the thread boundary between the test harness's host side
 * ({@link createTestDatabases}) and its clone-pool worker. Errors travel as envelopes.
 */
import type { ErrorEnvelope } from '@offloop/core';

/** Resolved options, given to the worker as `workerData`. */
export type PoolWorkerOptions = {
  /** Admin connection string, or null to use the shared embedded PostgreSQL. */
  readonly url: string | null;
  /** Absolute path of the migrations directory. */
  readonly dir: string;
  readonly schema: string;
  readonly table: string;
  readonly poolSize: number;
  readonly maxParallelCreates: number;
  readonly strategy: 'auto' | 'file_copy' | 'wal_log';
  readonly buildTimeout: number;
  readonly embeddedIdleTimeout: number;
  /** Where the shared embedded PostgreSQL lives (its data, its keeper's state and log). */
  readonly embeddedDir: string;
};

/** What the template build found or did. */
export type TemplateInfo = {
  /** Name of the template database, `offloop_tpl_<project>_<key>`. */
  readonly name: string;
  /** Hash of every migration's file name and checksum, and the version table's schema and name. */
  readonly key: string;
  /** True when this harness built the template; false when it reused one (built earlier, or by a parallel process). */
  readonly built: boolean;
  /** Time spent getting the template ready in this harness (building or waiting), in ms. */
  readonly durationMs: number;
  /** Number of migrations in the template. */
  readonly migrations: number;
  /** Stale templates (and their clones) of the same project dropped by this build. */
  readonly dropped: readonly string[];
  /** The admin connection string in use (redacted). */
  readonly server: string;
};

/** A database handed to a test, as the worker reports it. */
export type AcquiredDatabase = {
  readonly name: string;
  readonly url: string;
  /** True when it came ready from the pool, false when it was cloned on demand. */
  readonly fromPool: boolean;
};

/** Counters of one harness. */
export type PoolStats = {
  /** Databases handed out. */
  readonly acquired: number;
  /** Of those, taken ready from the pool (by any process). */
  readonly fromPool: number;
  /** Clones created by this harness (in the background and on demand). */
  readonly created: number;
  /** Total time spent in `CREATE DATABASE` by this harness, in ms. */
  readonly createMs: number;
  /** Databases dropped by this harness. */
  readonly dropped: number;
  /** Background clones (or pool checks) that failed; each pauses the refill for a second. */
  readonly backgroundFailures: number;
  /** The last of those failures, for a pool that does not fill: `CODE: message`, or null. */
  readonly lastBackgroundError: string | null;
};

/** What {@link TestDatabases.prune} dropped. */
export type PruneResult = {
  /** Templates and clones dropped, of projects no running harness uses. */
  readonly dropped: readonly string[];
  /** Other projects left alone because a harness of theirs is running. */
  readonly projectsInUse: number;
};

/** A request from the host. */
export type PoolRequest =
  | { readonly id: number; readonly type: 'template' }
  | { readonly id: number; readonly type: 'acquire' }
  | { readonly id: number; readonly type: 'release'; readonly name: string }
  /** The host handed out a database the worker had reserved for it. */
  | { readonly id: number; readonly type: 'taken'; readonly name: string }
  | { readonly id: number; readonly type: 'stats' }
  | { readonly id: number; readonly type: 'prune' }
  | { readonly id: number; readonly type: 'close' };

/** Results by request type. */
export type PoolResults = {
  readonly template: TemplateInfo;
  readonly acquire: AcquiredDatabase;
  readonly release: null;
  readonly taken: null;
  readonly stats: PoolStats;
  readonly prune: PruneResult;
  readonly close: PoolStats;
};

/** The worker's answer to one request. */
export type PoolResponse =
  | { readonly id: number; readonly ok: true; readonly value: PoolResults[keyof PoolResults] }
  | { readonly id: number; readonly ok: false; readonly error: ErrorEnvelope };

/** Sent by the worker unasked: a ready clone claimed ahead for this harness (already renamed to an in-use name). */
export type PoolNotice = { readonly type: 'reserved'; readonly database: AcquiredDatabase };
