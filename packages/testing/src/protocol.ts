/**
 * What crosses the thread boundary between the test harness's host side
 * ({@link createTestDatabases}) and its clone-pool thread ({@link ClonePool}), over two comlink
 * channels, as the migrator talks to its thread: the thread exposes the pool's calls, the host
 * exposes what the thread sends unasked. Errors travel as envelopes: structured clone would strip
 * their class and fields.
 */
import type { ErrorEnvelope } from '@offloop/core';
import type { MessagePort } from 'node:worker_threads';

/** Resolved options, given to the worker as `workerData`. */
export type PoolWorkerOptions = {
  /** Admin connection string, or null to use the shared embedded PostgreSQL. */
  readonly url: string | null;
  /** Absolute path of the migrations directory. */
  readonly dir: string;
  /** The schema migrations run in. */
  readonly schema: string;
  /** The version table's schema: `schema` unless set apart. */
  readonly migrationsSchema: string;
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

/**
 * What the clone pool does, as the thread runs it ({@link ClonePool}). The host calls these
 * through comlink ({@link PoolApi}).
 */
export type PoolMethods = {
  /** The template, built or found; resolves once the harness is ready. */
  template(): Promise<TemplateInfo>;
  acquire(): Promise<AcquiredDatabase>;
  release(name: string): Promise<null>;
  /** The host handed out a database the thread had reserved for it. */
  taken(name: string): Promise<null>;
  stats(): Promise<PoolStats>;
  prune(): Promise<PruneResult>;
  close(): Promise<PoolStats>;
};

/** One call's result as it crosses the thread boundary: a value, or an error envelope to rebuild. */
export type PoolOutcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ErrorEnvelope };

/** Exposed by the thread on its port: every {@link PoolMethods} call, its result as a {@link PoolOutcome}. */
export type PoolApi = {
  readonly [K in keyof PoolMethods]: (
    ...args: Parameters<PoolMethods[K]>
  ) => Promise<PoolOutcome<Awaited<ReturnType<PoolMethods[K]>>>>;
};

/** Exposed by the host on its port, for what the thread sends unasked. */
export type HarnessChannel = {
  /** A ready clone claimed ahead for this harness (already renamed to an in-use name). */
  reserved(database: AcquiredDatabase): void;
};

/** The thread's `workerData`: its options, and the ports of the two comlink channels. */
export type PoolWorkerData = {
  readonly options: PoolWorkerOptions;
  /** Where the thread exposes {@link PoolApi}. */
  readonly api: MessagePort;
  /** Where the host exposes {@link HarnessChannel}. */
  readonly host: MessagePort;
};
