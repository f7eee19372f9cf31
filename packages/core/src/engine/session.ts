/**
 * Where every operation runs. A mutating run ({@link withSession}) opens the lock connection and
 * the work pool side by side, checks they reach one database, takes the run lock, ends what a
 * runner that lost it still runs, starts the work lock, and reads the state; a read-only run
 * ({@link withReadOnly}) only reads the state. Both release everything they took, in `finally`.
 */
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { defaultAppliedBy } from '../config/applied-by.ts';
import type { ResolvedConfig } from '../config/config.ts';
import {
  ConfigError,
  lockDatabaseMismatchMessage,
  LockLostError,
  lockLostError,
  withApplied,
  type MigrationResult,
} from '../errors/index.ts';
import { discoverMigrations } from '../files/discover.ts';
import type { ProgressEvent } from '../model/events.ts';
import type { MigrationFile } from '../model/migration.ts';
import type { PlanState } from '../plan/state.ts';
import type { ApplyContext } from './apply/context.ts';
import { BackendPids } from './apply/backend-pid.ts';
import { describeLockWait } from './db/backends.ts';
import { BatchSession } from './db/batch-session.ts';
import { withPools, type Pools } from './db/pools.ts';
import { ensureLogTable, logTableExists, readDirty } from './ledger/log-table.ts';
import { ensureVersionTable, readApplied, versionTableExists } from './ledger/version-table.ts';
import { lockKeyFor, LockSession, workLockKeyFor } from './lock/lock.ts';
import { WorkSessions, workSessionSetup } from './lock/work-lock.ts';
import { loadParser } from './parse/parser.ts';

/** Options of one engine call. */
export type EngineOptions = {
  /** Receives progress events; awaited, so events arrive in order before the call settles. */
  readonly onProgress?: ((event: ProgressEvent) => Promise<void> | void) | undefined;
  readonly signal?: AbortSignal | undefined;
};

/** Sends a progress event; awaited so that events arrive in order. */
export type Emit = (event: ProgressEvent) => Promise<void> | void;

/** How long to wait for a terminated migration backend to exit. */
const TERMINATE_WAIT_MS = 10_000;

/** A mutating run: under the lock, with the state read. */
export type Session = {
  readonly pools: Pools;
  /** A connection for transactional SQL migrations, each sent as one script (see `db/batch-session.ts`). */
  readonly batch: BatchSession;
  readonly state: PlanState;
  readonly emit: Emit;
  readonly apply: ApplyContext;
  /**
   * Create the version and log tables if they are missing. Called by each operation once every
   * check that can refuse the run has passed: a refused run leaves no trace in the database.
   */
  readonly ensureTables: () => Promise<void>;
  /** Migrations this run finished so far, in order (for errors raised outside a migration). */
  readonly finished: MigrationResult[];
};

/** What the database records, read without a lock. */
async function readState(
  pool: CommonQueryMethods,
  config: ResolvedConfig,
  files: readonly MigrationFile[],
): Promise<PlanState> {
  const initialized = await versionTableExists(pool, config);
  const applied = initialized ? await readApplied(pool, config) : [];
  const dirty =
    initialized && (await logTableExists(pool, config)) ? await readDirty(pool, config) : [];
  return { files, applied, dirty, initialized };
}

/** Announce the run: the first event of every operation. */
export async function announce(
  config: ResolvedConfig,
  command: string,
  emit: Emit | undefined,
): Promise<void> {
  await emit?.({ type: 'run:started', command, dir: config.dir, at: new Date().toISOString() });
}

/** Run `fn` under the run lock, with the state read and the work sessions set up. */
export async function withSession<T>(
  config: ResolvedConfig,
  command: string,
  options: EngineOptions,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const emit: Emit = options.onProgress ?? (() => undefined);
  await announce(config, command, emit);
  // Reading the files and loading the parser overlap with connecting and taking the lock.
  const loaded = Promise.all([discoverMigrations(config.dir), loadParser()]);
  // A bad file must not wait for another runner's lock to be reported: it stops the wait.
  const filesFailed = new AbortController();
  loaded.catch(() => filesFailed.abort());
  const lockSignal =
    options.signal === undefined
      ? filesFailed.signal
      : AbortSignal.any([options.signal, filesFailed.signal]);
  const workKey = workLockKeyFor(config.schema, config.table);
  const work = new WorkSessions(workKey);
  // With lockUrl the work goes through a pooler (that is what lockUrl is for), where session
  // state outlives the session on a pooled server connection that other clients then use: no
  // work lock or session settings there (see docs/locking.md).
  const workSessions = config.lockUrl === null;
  // The lock's connection opens beside the work pool's.
  const opening = LockSession.open(config.lockUrl ?? config.url, config.connectTimeout);
  opening.catch(() => undefined);
  let lock: LockSession | null = null;
  const finished: MigrationResult[] = [];
  try {
    return await withPools(
      config,
      async (pools) => {
        lock = await opening;
        const held = lock;
        await assertSameDatabase(held, pools.pool, config);
        await takeLocks(held, config, { emit, signal: lockSignal, workKey });
        if (workSessions) work.start();
        const [files] = await loaded;
        const state = await readState(pools.pool, config, files);
        const apply = applyContext(held, config, state, emit, options.signal);
        const batch = new BatchSession(config, workSessions ? workSessionSetup(workKey) : null);
        const ensureTables = async () => {
          await ensureVersionTable(pools.pool, config);
          await ensureLogTable(pools.pool, config);
        };
        try {
          return await fn({ pools, state, emit, apply, batch, ensureTables, finished });
        } finally {
          await batch.close();
        }
      },
      { interceptors: [work.interceptor()] },
    );
  } catch (error) {
    // A problem with the files is reported before one with the database, as when the files
    // were read first.
    await loaded;
    // Whatever failed after the lock's connection ended failed because of it: the run stopped
    // (its statement in flight cancelled and rolled back) and says so.
    const lost = (lock as LockSession | null)?.lost;
    if (lost?.aborted === true && !(error instanceof LockLostError))
      throw lockLostError(lost.reason, finished, error);
    throw withApplied(error, finished);
  } finally {
    await (lock as LockSession | null)?.close();
    if (lock === null)
      await opening.then(
        (session) => session.close(),
        () => undefined,
      );
  }
}

/**
 * Take the run lock (reporting the wait), then end what a runner that lost it still runs: before
 * anything is read, that work must be over.
 */
async function takeLocks(
  lock: LockSession,
  config: ResolvedConfig,
  { emit, signal, workKey }: { emit: Emit; signal: AbortSignal; workKey: string },
): Promise<void> {
  const key = lockKeyFor(config.schema, config.table);
  await lock.acquire({
    key,
    timeoutMs: config.lockTimeout,
    signal,
    onWaiting: (waitedMs, holderPid) =>
      emit({
        type: 'lock:waiting',
        lockKey: key,
        waitedMs,
        timeoutMs: config.lockTimeout,
        holderPid,
      }),
    onAcquired: (waitedMs) => emit({ type: 'lock:acquired', lockKey: key, waitedMs }),
  });
  const orphans = await lock.endOrphans(workKey, config.lockTimeout, signal);
  if (orphans.length > 0)
    await emit({ type: 'lock:orphans', pids: orphans.map((orphan) => orphan.pid) });
}

/** What applying needs from the run: its lock connection controls the migration backends. */
function applyContext(
  lock: LockSession,
  config: ResolvedConfig,
  state: PlanState,
  emit: Emit,
  signal: AbortSignal | undefined,
): ApplyContext {
  return {
    config,
    appliedBy: config.appliedBy ?? defaultAppliedBy,
    emit,
    signal,
    lockLost: lock.lost,
    backendPids: new BackendPids(),
    cancelBackend: (pid) => lock.cancelBackend(pid),
    terminateBackend: (pid) => lock.terminateBackend(pid, TERMINATE_WAIT_MS),
    describeLockWait: (pid) => describeLockWait((text, values) => lock.query(text, values), pid),
    done: [],
    earlierFailure: (version) => state.dirty.find((entry) => entry.version === version),
  };
}

/**
 * The run lock and the work must be in one database: advisory locks belong to a database, so a
 * `lockUrl` naming another one would neither keep apart runners that use `url` alone nor let the
 * next holder find this run's leftover work (see `lock/lock.ts`).
 */
async function assertSameDatabase(
  lock: LockSession,
  pool: CommonQueryMethods,
  config: ResolvedConfig,
): Promise<void> {
  if (config.lockUrl === null) return;
  const [lockSide] = await lock.query<{ database: string }>(
    'select current_database() as database',
    [],
  );
  const workSide = await pool.oneFirst(
    sql.type(z.object({ database: z.string() }))`select current_database() as database`,
  );
  if (lockSide?.database === workSide) return;
  const message = lockDatabaseMismatchMessage(lockSide?.database ?? '?', workSide);
  throw new ConfigError(`Invalid configuration: ${message}`, {
    issues: [{ path: 'lockUrl', message }],
  });
}

/** A read-only run: no lock, nothing created; `fn` gets the state and the pool. */
export async function withReadOnly<T>(
  config: ResolvedConfig,
  command: string,
  options: EngineOptions,
  fn: (state: PlanState, pool: CommonQueryMethods) => Promise<T> | T,
): Promise<T> {
  await announce(config, command, options.onProgress);
  const files = await discoverMigrations(config.dir);
  return withPools(config, async ({ pool }) => fn(await readState(pool, config, files), pool));
}
