/**
 * The engine: every operation offloop performs on a database, over slonik. Runs inside the
 * worker thread (the host never imports slonik); usable on any thread, which the benchmark's
 * in-thread baseline does.
 *
 * Mutating operations (up, down, redo, stamp, repair) hold the run's advisory lock and create
 * the version and log tables if needed; read-only ones (status, history, current, check, plan,
 * sql) take no lock and create nothing.
 */
import { defaultAppliedBy } from '../config/applied-by.ts';
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import {
  applyInBatch,
  applyMigration,
  currentTimeouts,
  isBatchable,
  resolveAdvice,
  type ApplyContext,
  type Prepared,
} from './apply/apply.ts';
import { BatchSession } from './db/batch.ts';
import type { CommandName, CommandResult, CommandResults, EngineCommand } from '../model/commands.ts';
import type { ResolvedConfig } from '../config/config.ts';
import { findPgError, withPools, type Pools } from './db/pools.ts';
import { discoverMigrations } from '../files/discover.ts';
import {
  ConfigError,
  DatabaseError,
  DatabaseUnavailableError,
  LockLostError,
  MigrationDirtyError,
  MigrationFailedError,
  MigrationFileMissingError,
  MigrationsPendingError,
  MissingDownError,
  MissingUpError,
  NonTransactionalStatementError,
  OffloopError,
  OfflineUnsupportedError,
  RunAbortedError,
  SingleTransactionConflictError,
  type MigrationResult,
} from '../errors/index.ts';
import type { ProgressEvent } from '../model/events.ts';
import { lockKeyFor, LockSession, workLockKeyFor } from './lock/lock.ts';
import { WorkSessions, workSessionSetup } from './lock/work-lock.ts';
import { appendLog, ensureLogTable, logTableExists, readDirty, readLog } from './ledger/log-table.ts';
import type { AppliedMigration, LogEntry, MigrationFile } from '../model/migration.ts';
import { loadMigrationModule } from './prepare/module-migration.ts';
import { renderScript } from '../sql/offline.ts';
import {
  assertRunnable,
  compareVersions,
  plan,
  planRevert,
  type Plan,
  type PlanProblem,
} from '../plan/plan.ts';
import type {
  CheckResult,
  CurrentResult,
  DownResult,
  HistoryResult,
  PlanResult,
  PlanStep,
  RedoResult,
  RepairAction,
  RepairResult,
  SqlResult,
  StampResult,
  StatusResult,
  UpResult,
} from '../model/results.ts';
import { describeKept } from '../model/results.ts';
import { loadParser, splitSection, type Statement } from './prepare/split.ts';
import { resolveTarget } from '../plan/targets.ts';
import { isTransactionControl, nonTransactionalStatement } from '../plan/transaction-rules.ts';
import {
  deleteApplied,
  ensureVersionTable,
  insertApplied,
  readApplied,
  updateChecksum,
  versionTableExists,
} from './ledger/version-table.ts';

/** Options of one engine call. */
export type EngineOptions = {
  /** Receives progress events; awaited, so events arrive in order before the call settles. */
  readonly onProgress?: ((event: ProgressEvent) => Promise<void> | void) | undefined;
  readonly signal?: AbortSignal | undefined;
};

/** Run one engine command. The worker calls this for every task. */
export async function execute<C extends EngineCommand>(
  config: ResolvedConfig,
  command: C,
  options: EngineOptions = {},
): Promise<CommandResult<C>> {
  try {
    return (await dispatch(config, command, options)) as CommandResult<C>;
  } catch (error) {
    // Whatever a cancelled run trips over on its way out (an aborted lock wait, a cancelled
    // statement outside a migration), the caller asked for it: report the abort.
    if (options.signal?.aborted === true && !(error instanceof OffloopError)) {
      throw new RunAbortedError('The run was cancelled.', { applied: [] }, { cause: error });
    }
    throw error;
  }
}

function dispatch(
  config: ResolvedConfig,
  command: EngineCommand,
  options: EngineOptions,
): Promise<CommandResults[CommandName]> {
  switch (command.name) {
    case 'up':
      return up(config, {
        ...options,
        to: command.to,
        allowOutOfOrder: command.allowOutOfOrder,
        singleTransaction: command.singleTransaction,
      });
    case 'down':
      return down(config, { ...options, step: command.step, to: command.to });
    case 'redo':
      return redo(config, { ...options, step: command.step });
    case 'status':
      return status(config, options);
    case 'history':
      return history(config, options);
    case 'current':
      return current(config, options);
    case 'stamp':
      return stamp(config, { ...options, to: command.to });
    case 'repair':
      return repair(config, {
        ...options,
        dryRun: command.dryRun,
        forgetMissing: command.forgetMissing,
      });
    case 'check':
      return check(config, { ...options, allowOutOfOrder: command.allowOutOfOrder });
    case 'plan':
      return planCommand(config, command, options);
    case 'sql':
      return offlineSql(config, command, options);
  }
}

// ---------------------------------------------------------------------------------------------
// State and sessions

/** What the database records, read without a lock. */
type State = {
  readonly files: readonly MigrationFile[];
  readonly applied: readonly AppliedMigration[];
  readonly dirty: readonly LogEntry[];
  readonly initialized: boolean;
};

async function readState(
  pool: CommonQueryMethods,
  config: ResolvedConfig,
  files: readonly MigrationFile[],
): Promise<State> {
  const initialized = await versionTableExists(pool, config);
  const applied = initialized ? await readApplied(pool, config) : [];
  const dirty =
    initialized && (await logTableExists(pool, config)) ? await readDirty(pool, config) : [];
  return { files, applied, dirty, initialized };
}

type Emit = (event: ProgressEvent) => Promise<void> | void;

type LockWaitRow = {
  lock_type: string | null;
  waited_ms: number | null;
  blocked_by: {
    pid: number;
    applicationName: string;
    state: string | null;
    transactionMs: number | null;
  }[];
};

const LOCK_WAIT_QUERY = `
  select a.wait_event as lock_type,
    -- pg_locks.waitstart (PostgreSQL 14+) when the server has it, else the statement's start.
    (extract(epoch from clock_timestamp() - coalesce(
      (select min((to_jsonb(l) ->> 'waitstart')::timestamptz) from pg_locks l where l.pid = a.pid and not l.granted),
      a.query_start)) * 1000)::int as waited_ms,
    coalesce((
      select json_agg(json_build_object(
        'pid', b.pid, 'applicationName', b.application_name, 'state', b.state,
        'transactionMs', (extract(epoch from clock_timestamp() - b.xact_start) * 1000)::int
      ) order by b.pid)
      from pg_stat_activity b where b.pid = any(pg_blocking_pids(a.pid))
    ), '[]'::json) as blocked_by
  from pg_stat_activity a
  where a.pid = $1 and a.wait_event_type = 'Lock'`;

/** How long to wait for a terminated migration backend to exit. */
const TERMINATE_WAIT_MS = 10_000;

/** A mutating run: under the lock, with the state read. */
type Session = {
  readonly pools: Pools;
  /** A connection for transactional SQL migrations, each sent as one script (see `batch.ts`). */
  readonly batch: BatchSession;
  readonly state: State;
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

async function withSession<T>(
  config: ResolvedConfig,
  command: string,
  options: EngineOptions,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const emit: Emit = options.onProgress ?? (() => undefined);
  await emit({ type: 'run:started', command, dir: config.dir, at: new Date().toISOString() });
  // Reading the files and loading the parser overlap with connecting and taking the lock.
  const loaded = Promise.all([discoverMigrations(config.dir), loadParser()]);
  // A bad file must not wait for another runner's lock to be reported: it stops the wait.
  const filesFailed = new AbortController();
  loaded.catch(() => filesFailed.abort());
  const lockSignal =
    options.signal === undefined
      ? filesFailed.signal
      : AbortSignal.any([options.signal, filesFailed.signal]);
  const key = lockKeyFor(config.schema, config.table);
  const workKey = workLockKeyFor(config.schema, config.table);
  const work = new WorkSessions(workKey);
  // With lockUrl the work goes through a pooler (that is what lockUrl is for), where session
  // state outlives the session on a pooled server connection that other clients then use: no
  // work lock or session settings there (see docs/locking.md).
  const workSessions = config.lockUrl === null;
  // The lock's connection opens beside the work pool's.
  const lockUrl = config.lockUrl ?? config.url;
  const opening = LockSession.open(lockUrl, config.connectTimeout);
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
        await held.acquire({
          key,
          timeoutMs: config.lockTimeout,
          signal: lockSignal,
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
        // Before anything is read: what a runner that lost the lock still runs must be over.
        const orphans = await held.endOrphans(workKey, config.lockTimeout, lockSignal);
        if (orphans.length > 0)
          await emit({ type: 'lock:orphans', pids: orphans.map((orphan) => orphan.pid) });
        if (workSessions) work.start();
        const [files] = await loaded;
        const state = await readState(pools.pool, config, files);
        const apply: ApplyContext = {
          config,
          appliedBy: config.appliedBy ?? defaultAppliedBy,
          emit,
          signal: options.signal,
          lockLost: held.lost,
          cancelBackend: (pid) => held.cancelBackend(pid),
          terminateBackend: (pid) => held.terminateBackend(pid, TERMINATE_WAIT_MS),
          describeLockWait: async (pid) => {
            const [row] = await held.query<LockWaitRow>(LOCK_WAIT_QUERY, [pid]);
            return row === undefined
              ? null
              : {
                  lockType: row.lock_type ?? 'lock',
                  waitedMs: row.waited_ms ?? 0,
                  blockedBy: row.blocked_by,
                };
          },
          done: [],
          earlierFailure: (version) => state.dirty.find((entry) => entry.version === version),
        };
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
 * The run lock and the work must be in one database: advisory locks belong to a database, so a
 * `lockUrl` naming another one would neither keep apart runners that use `url` alone nor let the
 * next holder find this run's leftover work (see `lock.ts`).
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
  const message = `lockUrl reaches the database "${lockSide?.database ?? '?'}", and url reaches "${workSide}": the lock must be taken in the database the migrations run in (advisory locks belong to one database). Point lockUrl at the same database, directly rather than through the pooler.`;
  throw new ConfigError(`Invalid configuration: ${message}`, {
    issues: [{ path: 'lockUrl', message }],
  });
}

/**
 * A database failure that ended a run between (or outside) migrations, with what the run had
 * finished: every error that ends a run says what stays applied.
 */
function withApplied(error: unknown, finished: readonly MigrationResult[]): unknown {
  // Before anything ran (cannot connect, no rights) the message has nothing to add.
  const message = (text: string) =>
    finished.length === 0 ? text : `${text.replace(/\.?$/, '.')} ${describeKept(finished)}`;
  if (error instanceof DatabaseUnavailableError && error.details.applied === undefined) {
    return new DatabaseUnavailableError(
      message(error.message),
      { ...error.details, applied: [...finished] },
      { cause: error.cause },
    );
  }
  if (error instanceof DatabaseError && error.details.applied === undefined) {
    return new DatabaseError(
      message(error.message),
      { ...error.details, applied: [...finished] },
      { cause: error.cause },
    );
  }
  return error;
}

/**
 * The LOCK_LOST error for a run that stopped because its lock connection ended, with what stays
 * applied. `cause` is what the run tripped over; when that was a migration's failure (its own
 * connection went down with the lock's), the error names that migration.
 */
function lockLostError(
  reason: unknown,
  finished: readonly MigrationResult[],
  cause: unknown,
): LockLostError {
  const lockKey = reason instanceof LockLostError ? reason.details.lockKey : '';
  const what =
    reason instanceof Error
      ? reason.message
      : "The migration lock's connection ended during the run.";
  const details =
    cause instanceof OffloopError ? (cause.details as { version?: unknown; file?: unknown }) : {};
  const version = typeof details.version === 'string' ? details.version : null;
  const file = typeof details.file === 'string' ? details.file : null;
  const running =
    file === null || cause === undefined
      ? ''
      : ` ${file} was running and failed with it: ${(cause as Error).message}`;
  return new LockLostError(
    `${what} The run stopped.${running} ${describeKept(finished)}`,
    { lockKey, applied: [...finished], version, file },
    { cause },
  );
}

async function withReadOnly<T>(
  config: ResolvedConfig,
  command: string,
  options: EngineOptions,
  fn: (state: State, pool: CommonQueryMethods) => Promise<T> | T,
): Promise<T> {
  await options.onProgress?.({
    type: 'run:started',
    command,
    dir: config.dir,
    at: new Date().toISOString(),
  });
  const files = await discoverMigrations(config.dir);
  return withPools(config, async ({ pool }) => fn(await readState(pool, config, files), pool));
}

// ---------------------------------------------------------------------------------------------
// Planning, shared by the operations and by plan/sql

function knownVersions(state: State): string[] {
  return [...state.files.map((file) => file.version), ...state.applied.map((row) => row.version)];
}

function currentOf(applied: readonly AppliedMigration[]): string | null {
  return [...applied].sort((a, b) => compareVersions(a.version, b.version)).at(-1)?.version ?? null;
}

function planUp(state: State, to: string | undefined): Plan {
  const target =
    to === undefined
      ? undefined
      : resolveTarget(to, knownVersions(state), currentOf(state.applied));
  if (target?.kind === 'base') return { ...plan(state.files, state.applied), pending: [] };
  return plan(state.files, state.applied, { to: target?.version });
}

/** The applied migrations `down` reverts, the last applied first (see `planRevert`). */
function planDown(
  state: State,
  options: { step?: number | undefined; to?: string | undefined },
): AppliedMigration[] {
  return planRevert(state.files, state.applied, options);
}

/**
 * Non-transactional migrations whose last run failed midway and that nothing has resolved since
 * (see `readDirty`). Each may have left part of its work in the database.
 */
function failedRuns(state: State): PlanProblem[] {
  const byVersion = new Map(state.files.map((file) => [file.version, file]));
  return state.dirty.map((entry) => {
    const file = byVersion.get(entry.version);
    return {
      kind: 'failed',
      version: entry.version,
      file: file?.file ?? `${entry.version}_${entry.name}`,
      direction: entry.direction === 'down' ? 'down' : 'up',
      statementsRun: entry.outcome === 'started' ? null : entry.statementsRun,
      at: entry.at,
      fileChanged: file !== undefined && file.checksum !== entry.checksum,
      fileMissing: file === undefined,
      interrupted: entry.outcome === 'started',
    };
  });
}

/**
 * Refuse to run while a failed non-transactional migration is unresolved. `strict` (for `check`)
 * also refuses those whose file changed since, which a run takes as the fix and tries again, and
 * those whose file is gone.
 */
function assertNotDirty(state: State, options: { strict?: boolean } = {}): void {
  const first = failedRuns(state).find(
    (problem) =>
      problem.kind === 'failed' &&
      (options.strict === true || !(problem.fileChanged || problem.fileMissing)),
  );
  if (first?.kind !== 'failed') return;
  const what = first.interrupted
    ? `${first.file} is a non-transactional migration whose \`${first.direction}\` started at ${first.at} and never finished (the process died or lost its connection)`
    : `${first.file} is a non-transactional migration that failed during \`${first.direction}\` at ${first.at}` +
      (first.statementsRun === null
        ? ''
        : first.statementsRun === 0
          ? ' before its first statement completed, leaving work behind (`offloop history --log` shows the error)'
          : ` after ${first.statementsRun} statement${first.statementsRun === 1 ? '' : 's'} had run`);
  const next = first.fileMissing
    ? 'Its file is gone: once the database is as you want it, run `offloop repair` to clear this.'
    : `${first.fileChanged ? `The file has changed since; \`offloop ${first.direction}\` will try it again. ` : ''}${resolveAdvice(first.version, first.direction)}`;
  throw new MigrationDirtyError(`${what}; the database may hold part of it. ${next}`, {
    version: first.version,
    file: first.file,
    direction: first.direction,
    statementsRun: first.statementsRun ?? 0,
    statementCount: null,
    failedAt: first.at,
  });
}

/**
 * Refuse a statement PostgreSQL would not run inside a transaction (or transaction control) in a
 * section offloop runs in one.
 */
function assertTransactional(
  migration: MigrationFile,
  section: 'up' | 'down',
  statements: readonly Statement[],
): void {
  for (const statement of statements) {
    const refused = nonTransactionalStatement(statement.kind, statement.node);
    if (refused === null) continue;
    const where = `${migration.file}:${statement.line}:${statement.column}`;
    const marker = `"-- migrate:${section} transaction:false"`;
    const which = section === 'down' ? 'Its down section' : 'This migration';
    throw new NonTransactionalStatementError(
      isTransactionControl(refused)
        ? `${where}: ${refused} in a ${section} section that offloop runs in its own transaction (with its version row). ` +
            `Remove the ${refused}, or add transaction:false to its marker line (${marker}) to manage transactions yourself. Nothing was run.`
        : `${where}: ${refused} cannot run inside a transaction, and ${which.toLowerCase()} runs in one. ` +
            `Add transaction:false to its marker line (${marker}), ideally with that statement alone in its migration. Nothing was run.`,
      {
        file: migration.file,
        line: statement.line,
        column: statement.column,
        version: migration.version,
        statement: refused,
        direction: section,
      },
    );
  }
}

/**
 * Check and prepare migrations for a direction: parse SQL, import modules, refuse misfits. Nothing
 * runs. Going up, a SQL file's down section is checked too: once the file is applied, fixing it
 * takes an edit and `repair`.
 */
async function prepareAll(
  migrations: readonly MigrationFile[],
  direction: 'up' | 'down',
  emit?: Emit,
): Promise<Prepared[]> {
  const missingDown: { version: string; file: string }[] = [];
  const prepared: Prepared[] = [];
  for (const migration of migrations) {
    if (migration.kind === 'sql') {
      const section = direction === 'up' ? migration.up : migration.down;
      const statements = section === null ? [] : splitSection(migration, section);
      // An empty down section (as `offloop create` writes it) reverts nothing: reverting the
      // migration would only forget it, and the next `up` would trip over what it left.
      if (section === null || (direction === 'down' && statements.length === 0)) {
        missingDown.push({ version: migration.version, file: migration.file });
        continue;
      }
      // An empty up section is most likely a file from `offloop create` that nobody wrote yet:
      // applying it would record it, and writing it afterwards would be an edit.
      if (direction === 'up' && statements.length === 0) {
        throw new MissingUpError(
          `${migration.file}: its "-- migrate:up" section holds no statement (a file from \`offloop create\` not written yet?). Write the migration's SQL after that line, or delete the file. Nothing was run.`,
          { file: migration.file },
        );
      }
      if (section.options.transaction) assertTransactional(migration, direction, statements);
      if (direction === 'up' && migration.down !== null && migration.down.options.transaction) {
        assertTransactional(migration, 'down', splitSection(migration, migration.down));
      }
      prepared.push({ migration, direction, options: section.options, statements });
    } else {
      await emit?.({ type: 'migration:loading', version: migration.version, file: migration.file });
      const module = await loadMigrationModule(migration);
      const run = direction === 'up' ? module.up : module.down;
      if (run === undefined) {
        missingDown.push({ version: migration.version, file: migration.file });
        continue;
      }
      prepared.push({ migration, direction, options: module.options, run });
    }
  }
  if (missingDown.length > 0) {
    throw new MissingDownError(
      `Cannot revert: ${missingDown.length} migration${missingDown.length === 1 ? ' has' : 's have'} no down step (a "-- migrate:down" section with statements in it, or a \`down\` export): ${missingDown.map((m) => m.file).join(', ')}. ` +
        'Write one, or if the migration cannot be reverted, leave the database as it is and record the version you want with `offloop stamp`. Nothing was reverted.',
      { migrations: missingDown },
    );
  }
  return prepared;
}

function filesFor(state: State, rows: readonly AppliedMigration[]): MigrationFile[] {
  const byVersion = new Map(state.files.map((file) => [file.version, file]));
  const missing = rows.filter((row) => !byVersion.has(row.version));
  if (missing.length > 0) {
    throw new MigrationFileMissingError(
      `Cannot revert ${missing.map((row) => `${row.version}_${row.name}`).join(', ')}: the file${missing.length === 1 ? ' is' : 's are'} gone. Restore ${missing.length === 1 ? 'it' : 'them'} from version control.`,
      { migrations: missing.map(({ version, name }) => ({ version, name })) },
    );
  }
  return rows
    .map((row) => byVersion.get(row.version))
    .filter((file): file is MigrationFile => file !== undefined);
}

/** Problems that stop `down`: edits to the migrations it reverts, and failed runs. */
function assertRevertible(state: State, rows: readonly AppliedMigration[]): void {
  const versions = new Set(rows.map((row) => row.version));
  const result = plan(state.files, state.applied);
  assertRunnable({
    ...result,
    problems: result.problems.filter(
      (problem) => problem.kind === 'changed' && versions.has(problem.version),
    ),
  });
}

function toStep(item: Prepared): PlanStep {
  const { migration, direction, options } = item;
  return {
    direction,
    version: migration.version,
    name: migration.name,
    file: migration.file,
    kind: migration.kind,
    statements: 'statements' in item ? item.statements.length : null,
    transactional: options.transaction,
    lockTimeout: options.lockTimeout,
    statementTimeout: options.statementTimeout,
  };
}

async function runAll(
  session: Session,
  items: readonly Prepared[],
  done: MigrationResult[],
): Promise<void> {
  for (const [index, item] of items.entries()) {
    const { migration, direction, options } = item;
    // Nothing more starts once the lock is gone or a stop was asked for.
    if (session.apply.lockLost.aborted)
      throw lockLostError(session.apply.lockLost.reason, session.finished, undefined);
    if (session.apply.signal?.aborted === true)
      throw new RunAbortedError(
        `The run was cancelled before ${migration.file}.`,
        { applied: [...session.finished] },
        { cause: session.apply.signal.reason },
      );
    await session.emit({
      type: 'migration:started',
      direction,
      version: migration.version,
      name: migration.name,
      file: migration.file,
      index: index + 1,
      total: items.length,
      transactional: options.transaction,
      checksum: migration.checksum,
    });
    const context = { ...session.apply, done };
    const result = isBatchable(item)
      ? await applyInBatch(session.batch, session.pools.pool, item, context)
      : await session.pools.pool.connect((connection) => applyMigration(connection, item, context));
    done.push(result);
    session.finished.push(result);
    await session.emit({
      type: 'migration:finished',
      ...result,
      index: index + 1,
      total: items.length,
    });
  }
}

/** A single-transaction run whose COMMIT failed, as the failure of its last migration. */
function atCommit(error: unknown, last: Prepared, rolledBack: number): unknown {
  if (error instanceof OffloopError) return error;
  const pg = findPgError(error);
  if (pg === null) return error;
  const { migration, direction, options } = last;
  return new MigrationFailedError(
    `The single transaction of this run failed at its COMMIT, after all ${rolledBack} migrations ran: ${pg.message} (SQLSTATE ${pg.sqlstate}). ` +
      'A deferred constraint or trigger of one of them failed. The whole run was rolled back: nothing of it stays applied.',
    {
      version: migration.version,
      name: migration.name,
      file: migration.file,
      direction,
      transactional: options.transaction,
      line: null,
      column: null,
      statement: null,
      statementCount: 'statements' in last ? last.statements.length : null,
      statementsRun: 0,
      sqlstate: pg.sqlstate,
      detail: pg.detail,
      hint: pg.hint,
      applied: [],
      invalidIndexes: [],
    },
    { cause: error },
  );
}

/** A single-transaction run cannot include non-transactional migrations; refused before anything runs. */
function assertSingleTransaction(items: readonly Prepared[]): void {
  const conflicts = items
    .filter((item) => !item.options.transaction)
    .map(({ migration }) => ({ version: migration.version, file: migration.file }));
  if (conflicts.length > 0) {
    throw new SingleTransactionConflictError(
      `--single-transaction cannot include non-transactional migrations: ${conflicts.map((m) => m.file).join(', ')}. Run without --single-transaction, or up to the version before them first. Nothing was run.`,
      { migrations: conflicts },
    );
  }
}

async function runSingleTransaction(
  session: Session,
  items: readonly Prepared[],
  done: MigrationResult[],
): Promise<void> {
  assertSingleTransaction(items);
  const finished: MigrationResult[] = [];
  // Set inside the transaction's callback; read after its rollback.
  const failed: { at: { item: Prepared; error: unknown; durationMs: number } | null } = {
    at: null,
  };
  try {
    await session.pools.pool.connect((connection) =>
      connection.transaction(async (transaction) => {
        // Each migration's timeouts are `set local` in its savepoint, which lasts to the end of the
        // whole transaction: the next migration starts from these values again.
        const defaults = await currentTimeouts(transaction);
        for (const [index, item] of items.entries()) {
          const { migration, direction } = item;
          await session.emit({
            type: 'migration:started',
            direction,
            version: migration.version,
            name: migration.name,
            file: migration.file,
            index: index + 1,
            total: items.length,
            transactional: true,
            checksum: migration.checksum,
          });
          const started = performance.now();
          try {
            // Each migration is a savepoint inside the one transaction; a failure rolls back all of
            // them, and nothing of the run stays applied.
            const result = await applyMigration(transaction, item, {
              ...session.apply,
              done: [],
              singleTransaction: { ...defaults, rolledBack: finished.length },
            });
            finished.push(result);
          } catch (error) {
            failed.at = { item, error, durationMs: performance.now() - started };
            throw error;
          }
        }
      }, 0),
    );
  } catch (error) {
    // Every migration ran, and the COMMIT failed: a deferred constraint or trigger of one of them.
    const last = items.at(-1);
    const commitFailure =
      failed.at === null && last !== undefined && finished.length === items.length
        ? atCommit(error, last, finished.length)
        : null;
    const failure =
      failed.at ??
      (last !== undefined && commitFailure instanceof MigrationFailedError
        ? { item: last, error: commitFailure, durationMs: 0 }
        : null);
    if (failure === null) throw error;
    // The failure's log entry was written inside the transaction and rolled back with it.
    const { migration, direction } = failure.item;
    const reason =
      failure.error instanceof OffloopError
        ? `${failure.error.code}: ${failure.error.message}`
        : String(failure.error);
    await appendLog(session.pools.pool, session.apply.config, {
      version: migration.version,
      name: migration.name,
      direction,
      checksum: migration.checksum,
      outcome: 'failed',
      appliedBy: session.apply.appliedBy,
      durationMs: failure.durationMs,
      error: reason,
      statementsRun: null,
    }).catch(() => undefined);
    throw failure.error;
  }
  done.push(...finished);
  session.finished.push(...finished);
  // Only the COMMIT applies them: a later migration or the COMMIT failing rolls back every one,
  // so none is reported as finished (applied) before it. The host also counts these events as
  // what stays applied when a run is stopped.
  for (const [index, result] of finished.entries()) {
    await session.emit({
      type: 'migration:finished',
      ...result,
      index: index + 1,
      total: items.length,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Operations

/**
 * Apply pending migrations, each in its own transaction with its version row (or all in one
 * with `singleTransaction`), under the run's advisory lock. Every pending file is parsed (SQL)
 * or imported (modules) and checked before the first one runs.
 */
export async function up(
  config: ResolvedConfig,
  options: EngineOptions & {
    readonly to?: string | undefined;
    readonly allowOutOfOrder?: boolean | undefined;
    readonly singleTransaction?: boolean | undefined;
  } = {},
): Promise<UpResult> {
  const started = performance.now();
  const applied: MigrationResult[] = [];
  const current = await withSession(config, 'up', options, async (session) => {
    const result = planUp(session.state, options.to);
    assertRunnable(result, { allowOutOfOrder: options.allowOutOfOrder });
    assertNotDirty(session.state);
    await session.emit({
      type: 'plan:ready',
      direction: 'up',
      pending: result.pending.map(({ version, name }) => ({ version, name })),
      appliedCount: result.applied.length,
    });
    const prepared = await prepareAll(result.pending, 'up', session.emit);
    if (options.singleTransaction === true) assertSingleTransaction(prepared);
    // Nothing to do creates nothing, as a read-only command would.
    if (prepared.length > 0) await session.ensureTables();
    if (options.singleTransaction === true) await runSingleTransaction(session, prepared, applied);
    else await runAll(session, prepared, applied);
    return currentOf([
      ...session.state.applied,
      ...applied.map((m) => ({ version: m.version }) as AppliedMigration),
    ]);
  });
  const durationMs = Math.round(performance.now() - started);
  await options.onProgress?.({ type: 'run:finished', applied: applied.length, durationMs });
  return { applied, current, durationMs };
}

/** Revert applied migrations, the last applied first: one by default, `step` of them, or back to where the database was right after `to` was applied. */
export async function down(
  config: ResolvedConfig,
  options: EngineOptions & {
    readonly step?: number | undefined;
    readonly to?: string | undefined;
  } = {},
): Promise<DownResult> {
  const started = performance.now();
  const reverted: MigrationResult[] = [];
  const current = await withSession(config, 'down', options, async (session) => {
    const rows = planDown(session.state, options);
    const files = filesFor(session.state, rows);
    assertRevertible(session.state, rows);
    assertNotDirty(session.state);
    await session.emit({
      type: 'plan:ready',
      direction: 'down',
      pending: rows.map(({ version, name }) => ({ version, name })),
      appliedCount: session.state.applied.length,
    });
    const prepared = await prepareAll(files, 'down', session.emit);
    if (prepared.length > 0) await session.ensureTables();
    await runAll(session, prepared, reverted);
    const gone = new Set(reverted.map((m) => m.version));
    return currentOf(session.state.applied.filter((row) => !gone.has(row.version)));
  });
  const durationMs = Math.round(performance.now() - started);
  await options.onProgress?.({ type: 'run:finished', applied: reverted.length, durationMs });
  return { reverted, current, durationMs };
}

/** Revert the last `step` migrations applied (default 1) and apply them again, under one lock. */
export async function redo(
  config: ResolvedConfig,
  options: EngineOptions & { readonly step?: number | undefined } = {},
): Promise<RedoResult> {
  const started = performance.now();
  const reverted: MigrationResult[] = [];
  const applied: MigrationResult[] = [];
  const current = await withSession(config, 'redo', options, async (session) => {
    const rows = planDown(session.state, { step: options.step });
    const files = filesFor(session.state, rows);
    assertRevertible(session.state, rows);
    assertNotDirty(session.state);
    // Prepare both directions before anything runs.
    const downs = await prepareAll(files, 'down', session.emit);
    const ups = await prepareAll([...files].reverse(), 'up', session.emit);
    if (downs.length > 0) await session.ensureTables();
    await runAll(session, downs, reverted);
    await runAll(session, ups, applied);
    const gone = new Set(reverted.map((m) => m.version));
    return currentOf([
      ...session.state.applied.filter((row) => !gone.has(row.version)),
      ...applied.map((m) => ({ version: m.version }) as AppliedMigration),
    ]);
  });
  return { reverted, applied, current, durationMs: Math.round(performance.now() - started) };
}

/** Read-only: compare the directory with the version table. Takes no lock, creates nothing. */
export async function status(
  config: ResolvedConfig,
  options: EngineOptions = {},
): Promise<StatusResult> {
  return withReadOnly(config, 'status', options, (state) => {
    const result = plan(state.files, state.applied);
    return {
      applied: result.applied,
      pending: result.pending.map(({ version, name, file }) => ({ version, name, file })),
      problems: [...result.problems, ...failedRuns(state)],
      current: result.current,
      initialized: state.initialized,
    };
  });
}

/** Applied migrations newest first, and the log of everything that happened. Read-only. */
export async function history(
  config: ResolvedConfig,
  options: EngineOptions = {},
): Promise<HistoryResult> {
  return withReadOnly(config, 'history', options, async (state, pool) => {
    const result = plan(state.files, state.applied);
    const log = (await logTableExists(pool, config)) ? await readLog(pool, config) : [];
    return { applied: [...result.applied].reverse(), log };
  });
}

/** The newest applied migration. Read-only. */
export async function current(
  config: ResolvedConfig,
  options: EngineOptions = {},
): Promise<CurrentResult> {
  return withReadOnly(config, 'current', options, (state) => {
    const newest = [...state.applied].sort((a, b) => compareVersions(a.version, b.version)).at(-1);
    return {
      current: newest?.version ?? null,
      name: newest?.name ?? null,
      appliedAt: newest?.appliedAt ?? null,
    };
  });
}

/**
 * Record the database as being at `to` without running anything: files up to it become applied,
 * applied migrations after it are forgotten. `base` forgets everything. Logged as `stamp` and
 * `unstamp`. For adopting an existing database.
 */
export async function stamp(
  config: ResolvedConfig,
  options: EngineOptions & { readonly to: string },
): Promise<StampResult> {
  return withSession(config, 'stamp', options, async (session) => {
    const { state } = session;
    const target = resolveTarget(options.to, knownVersions(state), currentOf(state.applied));
    const appliedVersions = new Set(state.applied.map((row) => row.version));
    const within = (version: string) =>
      target.kind === 'version' && compareVersions(version, target.version) <= 0;
    const toStamp = state.files.filter(
      (file) => within(file.version) && !appliedVersions.has(file.version),
    );
    const toForget = state.applied.filter((row) => !within(row.version));
    const appliedBy = session.apply.appliedBy;
    if (toStamp.length + toForget.length > 0) await session.ensureTables();
    await session.pools.pool.transaction(async (transaction) => {
      for (const file of toStamp) {
        await insertApplied(transaction, config, {
          version: file.version,
          name: file.name,
          checksum: file.checksum,
          durationMs: 0,
          appliedBy,
        });
        await appendLog(transaction, config, {
          version: file.version,
          name: file.name,
          direction: 'stamp',
          checksum: file.checksum,
          outcome: 'succeeded',
          appliedBy,
          durationMs: null,
          error: null,
          statementsRun: null,
        });
      }
      for (const row of toForget) {
        await deleteApplied(transaction, config, row.version);
        await appendLog(transaction, config, {
          version: row.version,
          name: row.name,
          direction: 'unstamp',
          checksum: row.checksum,
          outcome: 'succeeded',
          appliedBy,
          durationMs: null,
          error: null,
          statementsRun: null,
        });
      }
    }, 0);
    return {
      stamped: toStamp.map((file) => file.version),
      unstamped: toForget.map((row) => row.version),
      current:
        target.kind === 'base'
          ? null
          : currentOf([
              ...state.applied.filter((row) => within(row.version)),
              ...toStamp.map((file) => ({ version: file.version }) as AppliedMigration),
            ]),
    };
  });
}

function repairActions(
  state: State,
  forgetMissing: boolean,
): { actions: RepairAction[]; skippedMissing: string[] } {
  const result = plan(state.files, state.applied);
  const actions: RepairAction[] = [];
  const skippedMissing: string[] = [];
  for (const problem of result.problems) {
    if (problem.kind === 'changed')
      actions.push({
        kind: 'accept-checksum',
        version: problem.version,
        file: problem.file,
        from: problem.applied,
        to: problem.current,
      });
    else if (problem.kind === 'missing') {
      if (forgetMissing)
        actions.push({ kind: 'forget-missing', version: problem.version, name: problem.name });
      else skippedMissing.push(`${problem.version}_${problem.name}`);
    }
  }
  for (const problem of failedRuns(state)) {
    if (problem.kind === 'failed')
      actions.push({
        kind: 'resolve-failed',
        version: problem.version,
        file: problem.file,
        direction: problem.direction,
        statementsRun: problem.statementsRun,
      });
  }
  return { actions, skippedMissing };
}

/**
 * Accept the checksums of edited applied migrations, clear failed non-transactional runs so
 * they run again, and (with `forgetMissing`) forget applied migrations whose files are gone.
 * `dryRun` reports the same actions and changes nothing (and takes no lock).
 */
export async function repair(
  config: ResolvedConfig,
  options: EngineOptions & {
    readonly dryRun?: boolean | undefined;
    readonly forgetMissing?: boolean | undefined;
  } = {},
): Promise<RepairResult> {
  const forgetMissing = options.forgetMissing === true;
  if (options.dryRun === true) {
    return withReadOnly(config, 'repair', options, (state) => ({
      dryRun: true,
      ...repairActions(state, forgetMissing),
    }));
  }
  return withSession(config, 'repair', options, async (session) => {
    const { actions, skippedMissing } = repairActions(session.state, forgetMissing);
    const appliedBy = session.apply.appliedBy;
    const names = new Map([
      ...session.state.files.map((f) => [f.version, f.name] as const),
      ...session.state.applied.map((r) => [r.version, r.name] as const),
    ]);
    if (actions.length > 0) await session.ensureTables();
    await session.pools.pool.transaction(async (transaction) => {
      for (const action of actions) {
        const name = names.get(action.version) ?? '';
        if (action.kind === 'accept-checksum') {
          await updateChecksum(transaction, config, action.version, action.to);
          await appendLog(transaction, config, {
            version: action.version,
            name,
            direction: 'repair-checksum',
            checksum: action.to,
            outcome: 'succeeded',
            appliedBy,
            durationMs: null,
            error: `checksum was ${action.from}`,
            statementsRun: null,
          });
        } else if (action.kind === 'forget-missing') {
          await deleteApplied(transaction, config, action.version);
          await appendLog(transaction, config, {
            version: action.version,
            name,
            direction: 'repair-forget',
            checksum: null,
            outcome: 'succeeded',
            appliedBy,
            durationMs: null,
            error: null,
            statementsRun: null,
          });
        } else {
          await appendLog(transaction, config, {
            version: action.version,
            name,
            direction: 'repair-resolve',
            checksum: null,
            outcome: 'succeeded',
            appliedBy,
            durationMs: null,
            error: null,
            statementsRun: action.statementsRun,
          });
        }
      }
    }, 0);
    return { dryRun: false, actions, skippedMissing };
  });
}

/**
 * For CI gates and readiness probes: resolves when everything is applied and consistent, and
 * throws the typed error otherwise (edited, missing, out of order, failed, or merely pending).
 * Read-only.
 */
export async function check(
  config: ResolvedConfig,
  options: EngineOptions & { readonly allowOutOfOrder?: boolean | undefined } = {},
): Promise<CheckResult> {
  return withReadOnly(config, 'check', options, async (state) => {
    const result = plan(state.files, state.applied);
    assertRunnable(result, { allowOutOfOrder: options.allowOutOfOrder });
    assertNotDirty(state, { strict: true });
    if (result.pending.length > 0) {
      // A pending file that `up` would refuse (a syntax error, a statement that cannot run in a
      // transaction) is reported as such, not as merely pending.
      await loadParser();
      await prepareAll(result.pending, 'up');
      throw new MigrationsPendingError(
        `${result.pending.length} migration${result.pending.length === 1 ? ' is' : 's are'} not applied yet: ${result.pending.map((m) => m.file).join(', ')}. Apply ${result.pending.length === 1 ? 'it' : 'them'} with \`offloop up\` (\`offloop plan\` shows what it would run).`,
        { pending: result.pending.map(({ version, file }) => ({ version, file })) },
      );
    }
    return { ok: true, current: result.current, applied: result.applied.length };
  });
}

type PlanCommand = Extract<EngineCommand, { name: 'plan' }>;
type SqlCommand = Extract<EngineCommand, { name: 'sql' }>;

async function stepsFor(state: State, command: PlanCommand | SqlCommand): Promise<Prepared[]> {
  await loadParser();
  // What the command itself would refuse, plan and sql refuse too.
  if (command.direction === 'up') {
    const result = planUp(state, command.to);
    assertRunnable(result, { allowOutOfOrder: command.allowOutOfOrder });
    assertNotDirty(state);
    return prepareAll(result.pending, 'up');
  }
  const rows = planDown(state, { step: command.step, to: command.to });
  const files = filesFor(state, rows);
  assertRevertible(state, rows);
  assertNotDirty(state);
  return prepareAll(files, 'down');
}

/** What `up` or `down` would do, in order, with statement counts and options. Read-only. */
async function planCommand(
  config: ResolvedConfig,
  command: PlanCommand,
  options: EngineOptions,
): Promise<PlanResult> {
  return withReadOnly(config, 'plan', options, async (state) => ({
    direction: command.direction,
    current: currentOf(state.applied),
    steps: (await stepsFor(state, command)).map(toStep),
  }));
}

/**
 * The exact SQL script `up` or `down` would run. With `from` it needs no database at all (the
 * database is taken to be at that version); otherwise it reads the version table and nothing
 * else. Never writes, never locks.
 */
async function offlineSql(
  config: ResolvedConfig,
  command: SqlCommand,
  options: EngineOptions,
): Promise<SqlResult> {
  const render = async (state: State): Promise<SqlResult> => {
    const items = await stepsFor(state, command);
    const modules = items
      .filter((item) => item.migration.kind === 'module')
      .map(({ migration }) => ({ version: migration.version, file: migration.file }));
    if (modules.length > 0) {
      throw new OfflineUnsupportedError(
        `Cannot print SQL for JavaScript/TypeScript migrations: ${modules.map((m) => m.file).join(', ')}. Print a range without them (--from, --to) or apply them with \`offloop up\`.`,
        { migrations: modules },
      );
    }
    const from = currentOf(state.applied);
    const to =
      command.direction === 'up'
        ? (items.at(-1)?.migration.version ?? from)
        : currentOf(
            state.applied.filter(
              (row) => !items.some((item) => item.migration.version === row.version),
            ),
          );
    return {
      direction: command.direction,
      from,
      to,
      script: renderScript(config, items, { direction: command.direction, from, to }),
      steps: items.map(toStep),
    };
  };
  if (command.from === undefined)
    return withReadOnly(config, 'sql', options, (state) => render(state));
  await options.onProgress?.({
    type: 'run:started',
    command: 'sql',
    dir: config.dir,
    at: new Date().toISOString(),
  });
  const files = await discoverMigrations(config.dir);
  const target = resolveTarget(
    command.from,
    files.map((file) => file.version),
    null,
  );
  const applied: AppliedMigration[] =
    target.kind === 'base'
      ? []
      : files
          .filter((file) => compareVersions(file.version, target.version) <= 0)
          .map((file) => ({
            version: file.version,
            name: file.name,
            checksum: file.checksum,
            appliedAt: '',
            durationMs: 0,
            appliedBy: '',
          }));
  return render({ files, applied, dirty: [], initialized: true });
}
