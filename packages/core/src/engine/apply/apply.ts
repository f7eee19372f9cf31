/**
 * Running one migration in one direction: in its own transaction with its version row and log
 * entry, or (with `transaction:false`) statement by statement with the version row after the
 * last one. Failures become typed errors with the file, line and column of the failing
 * statement, and are logged outside the rolled-back transaction.
 */
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { ResolvedConfig } from '../../config/config.ts';
import type { MigrationContext, MigrationModule } from '../../model/context.ts';
import { findPgError, rawQuery } from '../db/pools.ts';
import { pathToFileURL } from 'node:url';
import {
  LockLostError,
  LockNotAvailableError,
  MigrationFailedError,
  MigrationTimeoutError,
  MigrationTransactionControlError,
  OffloopError,
  RunAbortedError,
  StatementTimeoutError,
  type MigrationFailedDetails,
  type MigrationResult,
} from '../../errors/index.ts';
import type { MigrationBlockedEvent, ProgressEvent } from '../../model/events.ts';
import type { BatchSession } from '../db/batch.ts';
import { appendLog, recordedDuration } from '../ledger/log-table.ts';
import type { LogEntry, MigrationFile, SectionOptions } from '../../model/migration.ts';
import { indexOfCharPosition, lineColumnAt } from '../../files/source-position.ts';
import { recordStatements, transactionScript, type TransactionScript } from '../../sql/script.ts';
import { quoteIdentifier, quoteLiteral } from '../../sql/ddl.ts';
import { parseNodes, type Statement } from '../prepare/split.ts';
import {
  isConcurrentIndexBuild as isConcurrentIndexBuildNode,
  moduleTransactionControl,
} from '../../plan/transaction-rules.ts';
import { deleteApplied, insertApplied, isApplied } from '../ledger/version-table.ts';

export type { Prepared };

/** What applying needs from the run. */
export type ApplyContext = {
  readonly config: ResolvedConfig;
  readonly appliedBy: string;
  readonly emit: (event: ProgressEvent) => Promise<void> | void;
  /** The run's signal: the caller's abort. */
  readonly signal: AbortSignal | undefined;
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

/**
 * Session settings for a migration's statements, as `set` statements. `otherwise` gives the
 * values to set when neither the migration nor the config sets one (in a single-transaction run).
 */
export function timeoutSettings(
  config: ResolvedConfig,
  options: SectionOptions,
  otherwise?: { readonly lockTimeout: string; readonly statementTimeout: string },
): string[] {
  const settings: string[] = [];
  const lockTimeout =
    options.lockTimeout ?? (config.statementLockTimeout > 0 ? config.statementLockTimeout : null);
  const statementTimeout =
    options.statementTimeout ?? (config.statementTimeout > 0 ? config.statementTimeout : null);
  if (lockTimeout !== null) settings.push(`lock_timeout = '${lockTimeout}ms'`);
  else if (otherwise !== undefined)
    settings.push(`lock_timeout = ${quoteLiteral(otherwise.lockTimeout)}`);
  if (statementTimeout !== null) settings.push(`statement_timeout = '${statementTimeout}ms'`);
  else if (otherwise !== undefined)
    settings.push(`statement_timeout = ${quoteLiteral(otherwise.statementTimeout)}`);
  return settings;
}

const savedSettings = z.object({ lock_timeout: z.string(), statement_timeout: z.string() });

/** The session's `lock_timeout` and `statement_timeout` now, as `current_setting` gives them. */
export async function currentTimeouts(
  connection: CommonQueryMethods,
): Promise<{ readonly lockTimeout: string; readonly statementTimeout: string }> {
  const row = await connection.one(sql.type(savedSettings)`
    select current_setting('lock_timeout') as lock_timeout, current_setting('statement_timeout') as statement_timeout`);
  return { lockTimeout: row.lock_timeout, statementTimeout: row.statement_timeout };
}

// The backend pid per slonik connection id: one round trip per connection, not per migration.
const pids = new Map<string, number>();

async function backendPid(connection: CommonQueryMethods): Promise<number> {
  const id = (connection as { connectionId?: unknown }).connectionId;
  const known = typeof id === 'string' ? pids.get(id) : undefined;
  if (known !== undefined) return known;
  const pid = await connection.oneFirst(
    sql.type(z.object({ pid: z.number() }))`select pg_backend_pid() as pid`,
  );
  if (typeof id === 'string') {
    if (pids.size > 1000) pids.clear();
    pids.set(id, pid);
  }
  return pid;
}

/** A backend's lock wait, as {@link ApplyContext.describeLockWait} reports it. */
export type LockWait = Omit<MigrationBlockedEvent, 'type' | 'version' | 'pid'>;

/** When a statement waiting for a lock is first reported, and how often after that. */
const BLOCKED_FIRST_MS = 2_000;
const BLOCKED_EVERY_MS = 5_000;

/**
 * While a migration's backend is known, look every few seconds whether its statement waits for a
 * lock, and report who holds it up: a migration that seems to hang usually waits for a session
 * elsewhere. Returns the function that stops watching.
 */
function watchLockWaits(context: ApplyContext, version: string, pid: number): () => void {
  const describe = context.describeLockWait;
  if (describe === undefined) return () => undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const look = async () => {
    const wait = await describe(pid).catch(() => null);
    if (stopped) return;
    if (wait !== null) await context.emit({ type: 'migration:blocked', version, pid, ...wait });
    // The watch must not keep the worker's loop alive on its own.
    if (!stopped) timer = setTimeout(() => void look(), BLOCKED_EVERY_MS).unref();
  };
  timer = setTimeout(() => void look(), BLOCKED_FIRST_MS).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Where a run stands inside one migration, for error reports. */
type Position = {
  statement: Statement | null;
  index: number;
  completed: number;
  /** INVALID indexes on the table of a concurrent index build, before it started. */
  invalidBefore?: ReadonlySet<string>;
  /** Transaction control a transactional module tried (and was refused), if any. */
  refused?: TransactionControlRefused | undefined;
};

/** Why a migration was stopped from outside: the caller's abort, its `migrationTimeout`, or the lost lock. */
type StopReason = 'aborted' | 'timeout' | 'lock-lost';

/** The duration a migration's version and log rows were given, once it recorded them. */
type Recorded = { durationMs: number | null };

/** How a migration's body ended: its value, or the error and whether a stop caused it. */
type Outcome<T> = { value: T } | { error: unknown; reason: StopReason | null };

/**
 * Run `body` with a signal that fires on the run's abort or on the migration timeout, cancelling
 * the statement in flight on the server when it does.
 */
async function withCancellation<T>(
  context: ApplyContext,
  version: string,
  body: (signal: AbortSignal, setBackend: (pid: number) => void) => Promise<T>,
): Promise<Outcome<T>> {
  const controller = new AbortController();
  let backend: number | null = null;
  let stopWatching = (): void => undefined;
  let cancelling: Promise<void> = Promise.resolve();
  let reason: StopReason | null = null;
  const cancel = (why: StopReason) => {
    if (reason !== null) return;
    reason = why;
    controller.abort(new Error(`The migration was stopped (${why}).`));
    if (backend !== null) cancelling = context.cancelBackend(backend).catch(() => undefined);
  };
  const onAbort = () => cancel('aborted');
  const onLockLost = () => cancel('lock-lost');
  context.signal?.addEventListener('abort', onAbort, { once: true });
  context.lockLost.addEventListener('abort', onLockLost, { once: true });
  const timer =
    context.config.migrationTimeout > 0
      ? setTimeout(() => cancel('timeout'), context.config.migrationTimeout)
      : null;
  try {
    if (context.lockLost.aborted) cancel('lock-lost');
    else if (context.signal?.aborted) cancel('aborted');
    return {
      value: await body(controller.signal, (pid) => {
        backend = pid;
        stopWatching();
        stopWatching = watchLockWaits(context, version, pid);
      }),
    };
  } catch (error) {
    return { error, reason };
  } finally {
    stopWatching();
    // Landed before the connection runs anything else (see cancelUntilSettled).
    await cancelling;
    context.signal?.removeEventListener('abort', onAbort);
    context.lockLost.removeEventListener('abort', onLockLost);
    if (timer !== null) clearTimeout(timer);
  }
}

/** Apply or revert one migration on `connection` (a connection of the run's pool). */
export async function applyMigration(
  connection: CommonQueryMethods,
  item: Prepared,
  context: ApplyContext,
): Promise<MigrationResult> {
  const { migration, direction, options } = item;
  const started = performance.now();
  const position: Position = { statement: null, index: -1, completed: 0 };
  const recorded: Recorded = { durationMs: null };
  const settings = timeoutSettings(context.config, options, context.singleTransaction);

  const outcome = await withCancellation(context, migration.version, async (signal, setBackend) => {
    const pid = await backendPid(connection);
    setBackend(pid);
    await context.emit({ type: 'migration:backend', version: migration.version, pid });

    const runBody = async (target: CommonQueryMethods, local: boolean) => {
      for (const setting of settings)
        await target.query(rawQuery(`set ${local ? 'local ' : ''}${setting}`));
      if ('statements' in item) {
        for (const [index, statement] of item.statements.entries()) {
          if (signal.aborted) throw signal.reason;
          position.statement = statement;
          position.index = index;
          const concurrent = !options.transaction && isConcurrentIndexBuild(statement);
          if (concurrent) position.invalidBefore = new Set(await invalidIndexes(target, statement));
          await target.query(rawQuery(statement.sql));
          if (concurrent) await assertIndexValid(target, statement);
          position.completed = index + 1;
        }
        position.statement = null;
      } else {
        // The module's own code may ignore its signal (awaiting a timer, a loop that never
        // checks it): the migration ends when the stop comes, not when the module returns, and
        // its connection refuses everything from then on. A transactional module may not end or
        // reshape offloop's transaction either (see `guardConnection`).
        // Closed once the module settles: a query it leaves running (a timer, a promise it did
        // not await) must not land in the next migration's session, or after the commit.
        const settled = new AbortController();
        const guarded = guardConnection(
          target,
          AbortSignal.any([signal, settled.signal]),
          options.transaction ? migration : null,
        );
        try {
          await untilStopped(
            Promise.resolve(item.run(moduleContext(guarded, migration, signal, context))),
            signal,
          );
        } finally {
          settled.abort(new Error(`${migration.file} had already returned`));
          position.refused = guarded.refusals[0];
        }
        if (position.refused !== undefined) throw position.refused;
      }
      // After a stop nothing more commits, whatever the body did.
      if (signal.aborted) throw signal.reason;
    };
    const record = async (target: CommonQueryMethods) => {
      const durationMs = Math.round(performance.now() - started);
      if (direction === 'up') {
        await insertApplied(target, context.config, {
          version: migration.version,
          name: migration.name,
          checksum: migration.checksum,
          durationMs,
          appliedBy: context.appliedBy,
        });
      } else {
        await deleteApplied(target, context.config, migration.version);
      }
      await appendLog(target, context.config, {
        version: migration.version,
        name: migration.name,
        direction,
        checksum: migration.checksum,
        outcome: 'succeeded',
        appliedBy: context.appliedBy,
        durationMs,
        error: null,
        statementsRun: null,
      });
      recorded.durationMs = durationMs;
    };

    if (options.transaction) {
      await connection.transaction(async (transaction) => {
        await runBody(transaction, true);
        await record(transaction);
        if (signal.aborted) throw signal.reason;
      }, 0);
    } else {
      // Written before anything runs: a run that dies midway (a killed process, a lost
      // connection) leaves this as the version's last word, and the next run knows.
      await appendLog(connection, context.config, {
        version: migration.version,
        name: migration.name,
        direction,
        checksum: migration.checksum,
        outcome: 'started',
        appliedBy: context.appliedBy,
        durationMs: null,
        error: null,
        statementsRun: null,
      });
      // Session-level settings for a non-transactional migration, restored afterwards.
      const saved = settings.length === 0 ? null : await currentTimeouts(connection);
      try {
        await runBody(connection, false);
      } finally {
        if (saved !== null) {
          await connection
            .query(
              sql.unsafe`select set_config('lock_timeout', ${saved.lockTimeout}, false), set_config('statement_timeout', ${saved.statementTimeout}, false)`,
            )
            .catch(() => undefined);
        }
      }
      await connection.transaction((transaction) => record(transaction), 0);
    }
  });

  // PostgreSQL's position counts characters within the statement that failed.
  const at = findPgError('error' in outcome ? outcome.error : null)?.position ?? null;
  const positionInStatement =
    at === null || position.statement === null
      ? null
      : indexOfCharPosition(position.statement.sql, at) + 1;
  return finish(connection, item, context, {
    started,
    position,
    outcome,
    positionInStatement,
    recorded,
  });
}

/** A transactional SQL migration, ready to be sent as one script. */
export type BatchablePrepared = Prepared & { readonly statements: readonly Statement[] };

/** Whether {@link applyInBatch} can run `item`: a transactional SQL migration. */
export function isBatchable(item: Prepared): item is BatchablePrepared {
  return item.options.transaction && 'statements' in item;
}

/**
 * Apply or revert a transactional SQL migration as one script on `batch` (see `batch.ts`): one
 * round trip for `begin`, its statements, its version and log rows, and `commit`. A failure is
 * logged through `logTo` and reported like {@link applyMigration} reports it: the statement that
 * failed, with its file, line and column.
 */
export async function applyInBatch(
  batch: BatchSession,
  logTo: CommonQueryMethods,
  item: BatchablePrepared,
  context: ApplyContext,
): Promise<MigrationResult> {
  const { migration, direction, options, statements } = item;
  const started = performance.now();
  const position: Position = { statement: null, index: -1, completed: 0 };
  let positionInStatement: number | null = null;
  const script = transactionScript(
    statements,
    timeoutSettings(context.config, options),
    recordStatements(context.config, migration, direction, {
      appliedBy: context.appliedBy,
      duration: 'measured',
    }),
  );

  const recorded: Recorded = { durationMs: null };
  const committed = async () => {
    if ((await isApplied(logTo, context.config, migration.version)) !== (direction === 'up'))
      return false;
    recorded.durationMs = await recordedDuration(
      logTo,
      context.config,
      migration.version,
      direction,
    );
    return true;
  };

  const outcome = await withCancellation(context, migration.version, async (signal, setBackend) => {
    const pid = await batch.prepare();
    setBackend(pid);
    await context.emit({ type: 'migration:backend', version: migration.version, pid });
    if (signal.aborted) throw signal.reason;
    const sent = await cancelUntilSettled(batch.run(script.text), signal, () =>
      context.cancelBackend(pid),
    );
    if (sent.ok) {
      // The recording statements return the duration they stored (see `recordStatements`).
      recorded.durationMs = sent.last === null ? null : Number(sent.last);
      return;
    }
    const pg = findPgError(sent.error);
    if (pg === null) {
      // The connection broke mid-batch. The server may hold messages it had not flushed, so the
      // count says nothing, and the backend may still run, and commit, what it received: end
      // it, then let the version table say what happened.
      await context.terminateBackend(pid);
      if (await committed()) return;
      throw sent.error;
    }
    await batch.recover();
    const index = statementAt(script, sent.completed, pg.position);
    // A cancel that arrives while the commit runs is raised after it: PostgreSQL reports an
    // error for a transaction that committed. Past the migration's own statements, the version
    // table says what happened.
    // Only errors that can arrive after a commit count (a cancel, the session ended): a unique
    // violation on the version row means another runner recorded it, not that this one did.
    if (index >= statements.length && MAY_FOLLOW_COMMIT.test(pg.sqlstate) && (await committed()))
      return;
    const statement = statements[index];
    const start = script.starts[index];
    if (statement !== undefined && start !== undefined) {
      position.statement = statement;
      position.index = index;
      position.completed = index;
      // PostgreSQL's position counts characters from the start of the whole script.
      const at = pg.position === null ? null : indexOfCharPosition(script.text, pg.position);
      positionInStatement = at !== null && at >= start ? at - start + 1 : null;
    } else if (index >= statements.length) {
      position.completed = statements.length; // the recording statements or the commit failed
    }
    throw sent.error;
  });
  return finish(logTo, item, context, {
    started,
    position,
    outcome,
    positionInStatement,
    recorded,
  });
}

/**
 * Which statement of the migration failed: the one after the last that completed (`begin` and
 * the settings complete first). Before anything completed, PostgreSQL rejected the whole script
 * while parsing it (a syntax this server does not know): its position says where. Past the last
 * statement: the recording statements or the commit.
 */
function statementAt(
  script: TransactionScript,
  completed: number,
  position: number | null,
): number {
  const index = completed - script.before;
  if (index >= 0 || position === null) return index;
  const at = indexOfCharPosition(script.text, position);
  let found = -1;
  for (const [candidate, start] of script.starts.entries()) if (start <= at) found = candidate;
  return found;
}

/** SQLSTATEs a batch may report although its COMMIT went through: query cancelled, session ended. */
const MAY_FOLLOW_COMMIT = /^(57014|57P0[1-3]|08...)$/;

/** How often a cancel is sent again while a batch it missed is still running. */
const CANCEL_RETRY_MS = 50;

/**
 * Once `signal` fires, cancel the batch in flight, again and again until it settles: PostgreSQL
 * drops a cancel that reaches the backend before it started reading the query (it was still
 * finishing the previous one, or the bytes were in flight), and the whole migration would then
 * run to its commit.
 */
async function cancelUntilSettled<T>(
  running: Promise<T>,
  signal: AbortSignal,
  cancel: () => Promise<void>,
): Promise<T> {
  let settled = false;
  let inFlight: Promise<void> = Promise.resolve();
  const retry = async () => {
    while (!settled) {
      inFlight = cancel().catch(() => undefined);
      await inFlight;
      await new Promise((resolve) => setTimeout(resolve, CANCEL_RETRY_MS));
    }
  };
  const onAbort = () => void retry();
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await running;
  } finally {
    settled = true;
    signal.removeEventListener('abort', onAbort);
    // A cancel sent as the batch settled must land while the backend is idle (PostgreSQL drops
    // it there), not on whatever this connection runs next.
    await inFlight;
  }
}

/** The result of a migration that ran, or its typed error, logged outside its transaction. */
async function finish(
  logTo: CommonQueryMethods,
  item: Prepared,
  context: ApplyContext,
  run: {
    started: number;
    position: Position;
    outcome: Outcome<unknown>;
    positionInStatement: number | null;
    recorded: Recorded;
  },
): Promise<MigrationResult> {
  const { migration, direction, options } = item;
  const { started, position, outcome } = run;
  if ('value' in outcome) {
    // The duration the version and log rows hold, so that what the run reports is what `history` shows.
    const durationMs = run.recorded.durationMs ?? Math.round(performance.now() - started);
    return {
      version: migration.version,
      name: migration.name,
      file: migration.file,
      direction,
      durationMs,
    };
  }
  // What a failed non-transactional run leaves behind: the statements that completed, what a
  // module did, an INVALID index of a concurrent build, the work of an earlier failed run.
  const leftovers: Leftovers = { invalidIndexes: [], earlier: undefined };
  if (!options.transaction) {
    if (position.statement !== null && isConcurrentIndexBuild(position.statement)) {
      const before = position.invalidBefore ?? new Set<string>();
      const now = await invalidIndexes(logTo, position.statement).catch(() => []);
      leftovers.invalidIndexes = now.filter((name) => !before.has(name));
    }
    leftovers.earlier = context.earlierFailure?.(migration.version);
  }
  const failure = toFailure(
    item,
    position,
    outcome.error,
    outcome.reason,
    context,
    run.positionInStatement,
    leftovers,
  );
  const partial = leavesWork(item, position, leftovers);
  // The migration's transaction is gone; the log entry goes in on its own. (In a
  // single-transaction run, the run logs the failure after its rollback.) A run that lost the
  // lock writes nothing more: another runner may hold it now, and its log is the one that counts
  // (a non-transactional migration's `started` row already says it never finished).
  if (context.singleTransaction === undefined && outcome.reason !== 'lock-lost') {
    await appendLogPersistently(logTo, context.config, {
      version: migration.version,
      name: migration.name,
      direction,
      checksum: migration.checksum,
      outcome: partial ? 'partial' : 'failed',
      appliedBy: context.appliedBy,
      durationMs: performance.now() - started,
      error: `${failure.code}: ${failure.message}`,
      statementsRun: 'statements' in item ? position.completed : null,
    });
  }
  throw failure;
}

/** What a failed non-transactional migration may have left in the database besides its completed statements. */
type Leftovers = { invalidIndexes: string[]; earlier: LogEntry | undefined };

function leavesWork(item: Prepared, position: Position, leftovers: Leftovers): boolean {
  if (item.options.transaction) return false;
  return (
    position.completed > 0 ||
    !('statements' in item) ||
    leftovers.invalidIndexes.length > 0 ||
    leftovers.earlier !== undefined
  );
}

/**
 * Append the log row of a failure. A cancel sent for the failed statement can still arrive (it
 * is sent from another connection) and cancel this write instead: try again. A row that still
 * cannot be written is given up: the failure itself is what the caller must hear about.
 */
async function appendLogPersistently(
  connection: CommonQueryMethods,
  config: ResolvedConfig,
  row: Parameters<typeof appendLog>[2],
): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      await appendLog(connection, config, row);
      return;
    } catch (error) {
      if (findPgError(error)?.sqlstate !== '57014') return;
    }
  }
}

const invalidIndexRow = z.object({ name: z.string() });

/** The table a concurrent index build works on, and the index it names, as SQL text to resolve. */
function indexBuildTarget(statement: Statement): { relation: string; index: string | null } | null {
  const node = statement.node as {
    idxname?: string;
    relation?: { schemaname?: string; relname?: string };
  } | null;
  if (node === null || typeof node !== 'object' || node.relation?.relname === undefined)
    return null;
  const qualify = (name: string) =>
    node.relation?.schemaname === undefined
      ? quoteIdentifier(name)
      : `${quoteIdentifier(node.relation.schemaname)}.${quoteIdentifier(name)}`;
  const index =
    statement.kind === 'IndexStmt' && typeof node.idxname === 'string' && node.idxname !== ''
      ? qualify(node.idxname)
      : null;
  return { relation: qualify(node.relation.relname), index };
}

/**
 * The INVALID indexes on the table of a `CREATE INDEX CONCURRENTLY` or `REINDEX ... CONCURRENTLY`
 * (for `REINDEX INDEX`, the table of that index). A failed or cancelled build leaves its new
 * index there: compared with the same list taken before the statement, it names what the run left.
 */
async function invalidIndexes(
  connection: CommonQueryMethods,
  statement: Statement,
): Promise<string[]> {
  const target = indexBuildTarget(statement);
  if (target === null) return [];
  const table = sql.fragment`coalesce((select indrelid from pg_index where indexrelid = to_regclass(${target.relation})), to_regclass(${target.relation}))`;
  return [
    ...(await connection.anyFirst(sql.type(invalidIndexRow)`
    select i.indexrelid::regclass::text as name from pg_index i
    where not i.indisvalid and i.indrelid = ${table}`)),
  ];
}

/**
 * After a concurrent index build that succeeded, the index it names must be valid. It is not
 * when `if not exists` skipped an INVALID index an earlier failed build left: the migration would
 * be recorded with an index that does not work (a unique one would not be enforced).
 */
async function assertIndexValid(
  connection: CommonQueryMethods,
  statement: Statement,
): Promise<void> {
  const target = indexBuildTarget(statement);
  if (target?.index === null || target === null) return;
  const valid = await connection.maybeOneFirst(sql.type(z.object({ valid: z.boolean() }))`
    select indisvalid as valid from pg_index where indexrelid = to_regclass(${target.index})`);
  if (valid === false) {
    throw new Error(
      `the index ${target.index} exists but is INVALID, left by an earlier failed build (the statement skipped it): ` +
        `drop it (drop index concurrently ${target.index}) and run again`,
    );
  }
}

/** Statements worth parsing to see whether they are transaction control (see `guardConnection`). */
const MAYBE_TRANSACTION_CONTROL =
  /\b(?:begin|start|commit|end|rollback|abort|savepoint|release|prepare|transaction|characteristics|discard)\b/i;

/** A transactional module sent a statement that would end or reshape offloop's transaction. */
class TransactionControlRefused extends Error {
  readonly command: string;

  constructor(command: string, file: string) {
    super(
      `${command} through ctx.connection in ${file}: the migration runs in offloop's transaction, which it may not end or change`,
    );
    this.command = command;
  }
}

/**
 * The connection a module migration gets. Once `signal` fires every call is refused, so a module
 * that ignored its stop cannot touch the database afterwards. For a transactional migration
 * (`inTransactionOf` set), statements that would end or reshape offloop's transaction are refused
 * before they reach the server; nested `transaction()` calls get the same guard.
 */
function guardConnection(
  target: CommonQueryMethods,
  signal: AbortSignal,
  inTransactionOf: MigrationFile | null,
  refusals: TransactionControlRefused[] = [],
): CommonQueryMethods & { readonly refusals: readonly TransactionControlRefused[] } {
  const check = (query: unknown) => {
    if (signal.aborted)
      throw new Error(
        'The migration is over (it returned, or was cancelled, timed out or lost the lock): its connection takes no more queries.',
        { cause: signal.reason },
      );
    if (inTransactionOf === null) return;
    const text = (query as { sql?: unknown } | null)?.sql;
    if (typeof text !== 'string' || !MAYBE_TRANSACTION_CONTROL.test(text)) return;
    for (const { kind, node } of parseNodes(text) ?? []) {
      const command = moduleTransactionControl(kind, node);
      if (command === null) continue;
      const refused = new TransactionControlRefused(command, inTransactionOf.file);
      // Kept: a module that catches the error must still fail.
      refusals.push(refused);
      throw refused;
    }
  };
  const wrapped: Record<string, unknown> = { refusals };
  for (const name of [
    'any',
    'anyFirst',
    'exists',
    'many',
    'manyFirst',
    'maybeOne',
    'maybeOneFirst',
    'one',
    'oneFirst',
    'query',
    'record',
    'stream',
  ] as const) {
    const method = target[name] as (...args: unknown[]) => unknown;
    // A refusal is a rejected promise, as every query method's failure is: thrown synchronously
    // it would escape a `.catch()` and crash the thread.
    wrapped[name] = (...args: unknown[]) => {
      try {
        check(args[0]);
      } catch (error) {
        return Promise.reject(asError(error));
      }
      return method.apply(target, args);
    };
  }
  wrapped.transaction = <T>(
    handler: (connection: CommonQueryMethods) => Promise<T>,
    retries?: number,
  ) => {
    try {
      check(null);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    return target.transaction(
      (inner) => handler(guardConnection(inner, signal, inTransactionOf, refusals)),
      retries ?? 0,
    );
  };
  return wrapped as unknown as CommonQueryMethods & {
    readonly refusals: readonly TransactionControlRefused[];
  };
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** `body`, or the stop's reason as soon as `signal` fires, whichever comes first. */
async function untilStopped<T>(body: Promise<T>, signal: AbortSignal): Promise<T> {
  // The body may settle after the stop: its result is no longer anyone's.
  body.catch(() => undefined);
  if (signal.aborted) throw signal.reason;
  let onAbort = (): void => undefined;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(asError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([body, stopped]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function moduleContext(
  target: CommonQueryMethods,
  migration: MigrationFile,
  signal: AbortSignal,
  context: ApplyContext,
): MigrationContext {
  return {
    connection: target,
    sql,
    signal,
    version: migration.version,
    name: migration.name,
    progress: (message, counts) => {
      void context.emit({
        type: 'migration:progress',
        version: migration.version,
        message: String(message),
        done: counts?.done ?? null,
        total: counts?.total ?? null,
      });
    },
  };
}

/** `positionInStatement`: PostgreSQL's 1-based error position within the failing statement, if any. */
function toFailure(
  item: Prepared,
  position: Position,
  error: unknown,
  reason: StopReason | null,
  context: ApplyContext,
  positionInStatement: number | null,
  leftovers: Leftovers,
): OffloopError {
  const { migration, direction, options } = item;
  if (error instanceof OffloopError && !(error instanceof MigrationFailedError))
    return error as OffloopError;
  const pg = findPgError(error);
  const message = pg?.message ?? (error instanceof Error ? error.message : String(error));
  let line: number | null = null;
  let column: number | null = null;
  if (position.statement !== null && migration.kind === 'sql') {
    const offset = position.statement.offset + (positionInStatement ?? 1) - 1;
    ({ line, column } = lineColumnAt(migration.source, offset));
  } else if (migration.kind === 'module') {
    ({ line, column } = moduleFrame(position.refused ?? error, migration.path) ?? {
      line: null,
      column: null,
    });
  }
  const statementCount = 'statements' in item ? item.statements.length : null;
  const details: MigrationFailedDetails = {
    version: migration.version,
    name: migration.name,
    file: migration.file,
    direction,
    transactional: options.transaction,
    line,
    column,
    statement: position.statement === null ? null : position.index + 1,
    statementCount,
    statementsRun: position.completed,
    sqlstate: pg?.sqlstate ?? null,
    detail: pg?.detail ?? null,
    hint: pg?.hint ?? null,
    applied: [...context.done],
    invalidIndexes: leftovers.invalidIndexes,
  };
  const where = line === null ? migration.file : `${migration.file}:${line}:${column}`;
  const which =
    position.statement === null ? '' : `, statement ${position.index + 1} of ${statementCount}`;
  const aftermath = describeAftermath(item, position, context, leftovers);
  const sqlstate = pg ? ` (SQLSTATE ${pg.sqlstate})` : '';

  if (reason === 'lock-lost') {
    const lost: unknown = context.lockLost.reason;
    return new LockLostError(
      `${lost instanceof Error ? lost.message : "The migration lock's connection ended during the run."} ${where} was running${which}: it was cancelled on the server before this was reported. ${aftermath}`,
      {
        lockKey: lost instanceof LockLostError ? lost.details.lockKey : '',
        applied: [...context.done],
        version: migration.version,
        file: migration.file,
      },
      { cause: error },
    );
  }
  if (reason === 'aborted') {
    return new RunAbortedError(
      `The run was cancelled during ${where}${which}. ${aftermath}`,
      { applied: [...context.done] },
      { cause: error },
    );
  }
  if (reason === 'timeout') {
    return new MigrationTimeoutError(
      `${where}: migration ${migration.version} ran longer than migrationTimeout (${context.config.migrationTimeout} ms) and was cancelled${which}. ${aftermath}`,
      { ...details, timeoutMs: context.config.migrationTimeout },
      { cause: error },
    );
  }
  if (position.refused !== undefined) {
    const command = position.refused.command;
    return new MigrationTransactionControlError(
      `${where}: ${command} through ctx.connection: the migration runs in offloop's transaction, with its version row, and may not end or change it; the statement was not sent. ` +
        `Use ctx.connection.transaction() for a nested unit of work, or export \`transaction = false\` to manage transactions yourself. ${aftermath}`,
      { ...details, command },
      { cause: error },
    );
  }
  if (pg?.sqlstate === '57014') {
    return new StatementTimeoutError(
      `${where}: ${message}${sqlstate}${which}: the statement ran longer than statement_timeout. ${aftermath}`,
      details,
      { cause: error },
    );
  }
  if (pg?.sqlstate === '55P03') {
    const waitsForAll =
      position.statement !== null && isConcurrentIndexBuild(position.statement)
        ? ' (a concurrent index build also waits for every transaction that began before it, on any table, to end)'
        : '';
    return new LockNotAvailableError(
      `${where}: ${message}${sqlstate}${which}: another session held a lock longer than lock_timeout${waitsForAll}. ${aftermath}`,
      details,
      { cause: error },
    );
  }
  return new MigrationFailedError(
    `${where}: ${message}${sqlstate}${which}. ${aftermath}`,
    details,
    { cause: error },
  );
}

/**
 * Where in a module migration's own file an error arose: the first frame of its stack in that
 * file (V8 keeps `at async up (...)` frames across awaits).
 */
function moduleFrame(error: unknown, path: string): { line: number; column: number } | null {
  const stack = error instanceof Error ? error.stack : undefined;
  if (stack === undefined) return null;
  const href = pathToFileURL(path).href;
  for (const text of stack.split('\n')) {
    const at = text.indexOf(href);
    if (at < 0) continue;
    const match = /^(?:\?[^:)\s]*)?:(\d+):(\d+)/.exec(text.slice(at + href.length));
    if (match !== null) return { line: Number(match[1]), column: Number(match[2]) };
  }
  return null;
}

function isConcurrentIndexBuild(statement: Statement): boolean {
  return isConcurrentIndexBuildNode(statement.kind, statement.node);
}

/** What the failure left in the database, what else of the run stays, and how to go on. */
function describeAftermath(
  item: Prepared,
  position: Position,
  context: ApplyContext,
  leftovers: Leftovers,
): string {
  const { migration, direction, options } = item;
  const parts: string[] = [];
  if (context.singleTransaction !== undefined) {
    const before = context.singleTransaction.rolledBack;
    parts.push(
      `The whole run was one transaction (singleTransaction) and was rolled back: nothing of it stays applied${before === 0 ? '' : `, including the ${before} migration${before === 1 ? '' : 's'} that ran before this one`}.`,
    );
    return parts.join(' ');
  }
  if (options.transaction) {
    parts.push(`Migration ${migration.version} was rolled back.`);
  } else if (leavesWork(item, position, leftovers)) {
    const ran =
      'statements' in item
        ? position.completed === 0
          ? 'none of its statements completed in this run'
          : position.completed === 1
            ? 'its first statement ran and stays applied'
            : `its statements 1-${position.completed} ran and stay applied`
        : 'what its module did before failing stays applied';
    const extra: string[] = [];
    if (leftovers.invalidIndexes.length > 0) {
      extra.push(
        `PostgreSQL left ${leftovers.invalidIndexes.length === 1 ? 'the index' : 'the indexes'} ${leftovers.invalidIndexes.join(', ')} behind, marked INVALID: drop ${leftovers.invalidIndexes.length === 1 ? 'it' : 'them'} (drop index concurrently) before running this again`,
      );
    }
    if (leftovers.earlier !== undefined) {
      const earlierRan = leftovers.earlier.statementsRun;
      extra.push(
        `an earlier run at ${leftovers.earlier.at} had already left ${earlierRan === null ? 'part of it' : `${earlierRan} statement${earlierRan === 1 ? '' : 's'}`} applied`,
      );
    }
    parts.push(
      `Migration ${migration.version} is not transactional: ${[ran, ...extra].join('; ')}. Until this is resolved, the next runs refuse to start. ${resolveAdvice(migration.version, direction)}`,
    );
  } else {
    parts.push(
      `Migration ${migration.version} is not transactional, but none of its statements ran: nothing of it stays applied, and the next run tries it again.`,
    );
  }
  const kept = context.done.length;
  if (kept > 0)
    parts.push(
      `The ${kept} migration${kept === 1 ? '' : 's'} before it in this run ${kept === 1 ? 'stays' : 'stay'} ${direction === 'up' ? 'applied' : 'reverted'}.`,
    );
  return parts.join(' ');
}
