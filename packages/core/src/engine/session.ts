/**
 * Where every operation runs. A mutating run ({@link withSession}) opens the lock connection and
 * the work connection side by side, checks they reach one database, takes the run lock, ends what
 * a runner that lost it still runs, starts the work lock, and reads the state; a read-only run
 * ({@link withReadOnly}) only reads the state, on one connection. Both release everything they
 * took, in `finally`. slonik is opened only for a JavaScript/TypeScript migration (`modules`).
 */
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
import { migrationsOf } from './files-once.ts';
import type { ProgressEvent } from '../model/events.ts';
import type { AppliedMigration, MigrationFile } from '../model/migration.ts';
import type { PlanState } from '../plan/state.ts';
import { searchPathFor, versionTableOf, type VersionTable } from '../sql/ddl.ts';
import type { ApplyContext } from './apply/context.ts';
import { describeLockWait } from './db/backends.ts';
import type { Db } from './db/db.ts';
import { ModulePool } from './db/module-pool.ts';
import { withDatabaseErrors } from './db/pg-errors.ts';
import { sql } from './db/sql.ts';
import { keepConnection, takeConnection } from './db/kept-connections.ts';
import type { WorkConnection, WorkConnectionConfig } from './db/work-connection.ts';
import { ensureLedger } from './ledger/ensure-ledger.ts';
import { readDirty } from './ledger/log-table.ts';
import {
  ensureSchema,
  ledgerTables,
  readApplied,
  readAppliedUnless,
  type LedgerTables,
} from './ledger/version-table.ts';
import { lockKeyFor, LockSession, workLockKeyFor } from './lock/lock.ts';
import { workSessionSetup } from './lock/work-lock.ts';

/** Options of one engine call. */
export type EngineOptions = {
  /** Receives progress events; awaited, so events arrive in order before the call settles. */
  readonly onProgress?: ((event: ProgressEvent) => Promise<void> | void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * Wait for the turn of a `serial` migration (one target at a time across a fleet): resolves
   * with the function that gives the turn back. Without it, a serial migration runs at once.
   */
  readonly serial?: ((version: string) => Promise<() => void>) | undefined;
  /**
   * Runs that share this key share one reading of the migration files (a fleet's targets, see
   * `files-once.ts`); without it the files are read for this run.
   */
  readonly filesKey?: string | undefined;
};

/** Sends a progress event; awaited so that events arrive in order. */
export type Emit = (event: ProgressEvent) => Promise<void> | void;

/** How long to wait for a terminated migration backend to exit. */
const TERMINATE_WAIT_MS = 10_000;

/** A mutating run: under the lock, with the state read. */
export type Session = {
  /** The run's one connection for its reads, its bookkeeping and its SQL migrations (`db/work-connection.ts`). */
  readonly work: WorkConnection;
  /** slonik's connections, for JavaScript/TypeScript migrations only, opened on first use. */
  readonly modules: ModulePool;
  readonly state: PlanState;
  readonly emit: Emit;
  readonly apply: ApplyContext;
  /**
   * Create the schema migrations run in and the version and log tables if they are missing.
   * Called by each operation once every check that can refuse the run has passed: a refused run
   * leaves no trace in the database.
   */
  readonly ensureTables: () => Promise<void>;
  /** Migrations this run finished so far, in order (for errors raised outside a migration). */
  readonly finished: MigrationResult[];
};

/**
 * What the database records, read without a lock. With `filesLikelyApplied` (a run that expects to
 * find nothing to do: `up`), a version table that holds exactly the files is not read row by
 * row: their rows are made from the files, with no time, duration or author (`readAppliedUnless`).
 */
async function readState(
  db: Db,
  ledger: VersionTable,
  files: readonly MigrationFile[],
  filesLikelyApplied = false,
): Promise<{ readonly state: PlanState; readonly tables: LedgerTables }> {
  const tables = await ledgerTables(db, ledger);
  const { versionTable, logTable } = tables;
  const read = !versionTable
    ? []
    : filesLikelyApplied
      ? await readAppliedUnless(db, ledger, files)
      : await readApplied(db, ledger);
  const applied = read === 'matches' ? files.map(asApplied) : read;
  const dirty = versionTable && logTable ? await readDirty(db, ledger) : [];
  return { state: { files, applied, dirty, initialized: versionTable }, tables };
}

/** A file's version row, as far as the file knows it (see {@link readState}). */
function asApplied({ version, name, checksum }: MigrationFile): AppliedMigration {
  return { version, name, checksum, appliedAt: '', durationMs: 0, appliedBy: '' };
}

/**
 * The `search_path` the run's sessions are given (`searchPathFor`, the configured `schema`
 * first), or null with `lockUrl`: the work then goes through a pooler, where session state would
 * outlive the session on a server connection other clients then use. Each migration sets it for
 * itself there instead (`ApplyContext.searchPath`).
 */
function sessionSearchPath(config: ResolvedConfig): string | null {
  return config.lockUrl === null ? searchPathFor(config.schema) : null;
}

/** The work connection's settings for a run of `config`. */
function workConnectionConfig(config: ResolvedConfig): WorkConnectionConfig {
  return { ...config, searchPath: sessionSearchPath(config) };
}

/**
 * Open the connection the next call takes, and keep it as a call that succeeded would (for
 * `workerIdleTimeout`): the connecting half of `migrator.warm()`. Never throws: a database that
 * cannot be reached now is for the next call to report, with its typed error.
 */
export async function connectAhead(config: ResolvedConfig): Promise<void> {
  const connectionConfig = workConnectionConfig(config);
  const work = takeConnection(connectionConfig);
  // keepConnection waits for the connection (bounded), and closes it when it failed.
  await keepConnection(connectionConfig, work, config.workerIdleTimeout).catch(() => work.close());
}

/** Announce the run: the first event of every operation. */
export async function announce(
  config: ResolvedConfig,
  command: string,
  emit: Emit | undefined,
): Promise<void> {
  await emit?.({ type: 'run:started', command, dir: config.dir, at: new Date().toISOString() });
}

/** How {@link withSession} reads the ledger. */
type SessionReading = {
  /**
   * The run expects the database to hold every file already (`up`): the version table is read
   * only when it does not (see `readAppliedUnless`), and the state's rows then carry no time,
   * duration or author. Not for a run that shows or orders by them (`status`, `down`).
   */
  readonly filesLikelyApplied?: boolean;
};

/** Run `fn` under the run lock, with the state read and the work sessions set up. */
export async function withSession<T>(
  config: ResolvedConfig,
  command: string,
  options: EngineOptions,
  fn: (session: Session) => Promise<T>,
  reading: SessionReading = {},
): Promise<T> {
  const emit: Emit = options.onProgress ?? (() => undefined);
  await announce(config, command, emit);
  // Reading the files overlaps with connecting and taking the lock.
  const loaded = migrationsOf(config.dir, options.filesKey ?? null);
  // A bad file must not wait for another runner's lock to be reported: it stops the wait.
  const filesFailed = new AbortController();
  loaded.catch(() => filesFailed.abort());
  const lockSignal =
    options.signal === undefined
      ? filesFailed.signal
      : AbortSignal.any([options.signal, filesFailed.signal]);
  const versionTable = versionTableOf(config);
  const workKey = workLockKeyFor(versionTable);
  // With lockUrl the work goes through a pooler (that is what lockUrl is for), where session
  // state outlives the session on a pooled server connection that other clients then use: no
  // work lock or session settings there (see docs/locking.md).
  const searchPath = sessionSearchPath(config);
  const setup = searchPath === null ? null : workSessionSetup(workKey, searchPath);
  // The lock's connection opens beside the work connection.
  const opening = LockSession.open(config.lockUrl ?? config.url, config.connectTimeout);
  opening.catch(() => undefined);
  const connectionConfig = workConnectionConfig(config);
  const work = takeConnection(connectionConfig);
  // Set up as work sessions only once the run holds the lock (see `lock/work-lock.ts`).
  let working = false;
  const modules = new ModulePool(config, () => (working ? setup : null));
  let lock: LockSession | null = null;
  const finished: MigrationResult[] = [];
  // Only a run that succeeded leaves its connection for the next call: after a failure or a stop
  // nothing of the run stays.
  let succeeded = false;
  try {
    return await withDatabaseErrors(config, async () => {
      lock = await opening;
      const held = lock;
      await assertSameDatabase(held, work, config);
      await takeLocks(held, config, { emit, signal: lockSignal, versionTable, workKey });
      if (setup !== null) await work.startWork(setup);
      working = true;
      const { state, tables } = await readState(
        work,
        versionTable,
        await loaded,
        reading.filesLikelyApplied === true,
      );
      const apply = applyContext(held, work, config, state, emit, options);
      const ensureTables = async () => {
        // The ledger's schema is created with the version table.
        if (config.schema !== 'public' && config.schema !== versionTable.schema)
          await ensureSchema(work, config.schema);
        await ensureLedger(work, versionTable, tables);
      };
      const result = await fn({ work, modules, state, emit, apply, ensureTables, finished });
      succeeded = true;
      return result;
    });
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
    await modules.close().catch(() => undefined);
    await keepConnection(connectionConfig, work, succeeded ? config.workerIdleTimeout : 0);
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
  {
    emit,
    signal,
    versionTable,
    workKey,
  }: { emit: Emit; signal: AbortSignal; versionTable: VersionTable; workKey: string },
): Promise<void> {
  const key = lockKeyFor(versionTable);
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
  work: Db,
  config: ResolvedConfig,
  state: PlanState,
  emit: Emit,
  { signal, serial }: EngineOptions,
): ApplyContext {
  return {
    config,
    versionTable: versionTableOf(config),
    // Without session state on the work connections, each migration sets its search_path.
    searchPath: sessionSearchPath(config) === null ? searchPathFor(config.schema) : null,
    appliedBy: config.appliedBy ?? defaultAppliedBy,
    emit,
    signal,
    serial,
    lockLost: lock.lost,
    logFallback: work,
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
  work: Db,
  config: ResolvedConfig,
): Promise<void> {
  if (config.lockUrl === null) return;
  const [lockSide] = await lock.query<{ database: string }>(
    'select current_database() as database',
    [],
  );
  const workSide = await work.first<string>(sql`select current_database() as database`);
  if (lockSide?.database === workSide) return;
  const message = lockDatabaseMismatchMessage(lockSide?.database ?? '?', workSide);
  throw new ConfigError(`Invalid configuration: ${message}`, {
    issues: [{ path: 'lockUrl', message }],
  });
}

/** A read-only run: no lock, nothing created, one connection; `fn` gets the state and the connection. */
export async function withReadOnly<T>(
  config: ResolvedConfig,
  command: string,
  options: EngineOptions,
  fn: (state: PlanState, db: Db) => Promise<T> | T,
): Promise<T> {
  await announce(config, command, options.onProgress);
  // Connecting overlaps with reading the files; a problem with the files is reported first.
  // Its search_path, for what resolves names the way migrations will (live lint), is set in the
  // round trip that connects (or retags a kept connection): no query of its own.
  const connectionConfig = workConnectionConfig(config);
  const work = takeConnection(connectionConfig);
  let succeeded = false;
  try {
    const files = await migrationsOf(config.dir, options.filesKey ?? null);
    const result = await withDatabaseErrors(config, async () =>
      fn((await readState(work, versionTableOf(config), files)).state, work),
    );
    succeeded = true;
    return result;
  } finally {
    await keepConnection(connectionConfig, work, succeeded ? config.workerIdleTimeout : 0);
  }
}
