/**
 * Running one migration in one direction: in its own transaction with its version row and log
 * entry, or (with `transaction:false`) statement by statement with the version row after the
 * last one. Failures become typed errors with the file, line and column of the failing
 * statement, and are logged outside the rolled-back transaction.
 */
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { ResolvedConfig } from './config.ts';
import type { MigrationContext, MigrationModule } from './context.ts';
import { findPgError, rawQuery } from './database.ts';
import {
  LockNotAvailableError,
  MigrationFailedError,
  MigrationTimeoutError,
  OffloopError,
  RunAbortedError,
  StatementTimeoutError,
  type MigrationFailedDetails,
  type MigrationResult,
} from './errors.ts';
import type { ProgressEvent } from './events.ts';
import type { BatchSession } from './batch.ts';
import { appendLog } from './log-table.ts';
import type { MigrationFile, SectionOptions } from './migration.ts';
import { indexOfCharPosition, lineColumnAt } from './source-position.ts';
import { recordStatements, transactionScript, type TransactionScript } from './script.ts';
import type { Statement } from './split.ts';
import { deleteApplied, insertApplied, isApplied } from './version-table.ts';

/** A migration checked and ready to run in one direction. */
export type Prepared = {
  readonly migration: MigrationFile;
  readonly direction: 'up' | 'down';
  readonly options: SectionOptions;
} & ({ readonly statements: readonly Statement[] } | { readonly run: NonNullable<MigrationModule['down']> });

/** What applying needs from the run. */
export type ApplyContext = {
  readonly config: ResolvedConfig;
  readonly appliedBy: string;
  readonly emit: (event: ProgressEvent) => Promise<void> | void;
  /** The run's signal: the caller's abort. */
  readonly signal: AbortSignal | undefined;
  /** Cancel the statement running on backend `pid` (from another connection). */
  readonly cancelBackend: (pid: number) => Promise<void>;
  /** End backend `pid` (from another connection) and wait until it is gone. */
  readonly terminateBackend: (pid: number) => Promise<void>;
  /** What this run finished before, for errors. */
  readonly done: readonly MigrationResult[];
};

/** Session settings for a migration's statements, as `set` statements. */
export function timeoutSettings(config: ResolvedConfig, options: SectionOptions): string[] {
  const settings: string[] = [];
  const lockTimeout = options.lockTimeout ?? (config.statementLockTimeout > 0 ? config.statementLockTimeout : null);
  const statementTimeout = options.statementTimeout ?? (config.statementTimeout > 0 ? config.statementTimeout : null);
  if (lockTimeout !== null) settings.push(`lock_timeout = '${lockTimeout}ms'`);
  if (statementTimeout !== null) settings.push(`statement_timeout = '${statementTimeout}ms'`);
  return settings;
}

const savedSettings = z.object({ lock_timeout: z.string(), statement_timeout: z.string() });

// The backend pid per slonik connection id: one round trip per connection, not per migration.
const pids = new Map<string, number>();

async function backendPid(connection: CommonQueryMethods): Promise<number> {
  const id = (connection as { connectionId?: unknown }).connectionId;
  const known = typeof id === 'string' ? pids.get(id) : undefined;
  if (known !== undefined) return known;
  const pid = await connection.oneFirst(sql.type(z.object({ pid: z.number() }))`select pg_backend_pid() as pid`);
  if (typeof id === 'string') {
    if (pids.size > 1000) pids.clear();
    pids.set(id, pid);
  }
  return pid;
}

/** Where a run stands inside one migration, for error reports. */
type Position = { statement: Statement | null; index: number; completed: number };

/** How a migration's body ended: its value, or the error and whether a cancel caused it. */
type Outcome<T> = { value: T } | { error: unknown; reason: 'aborted' | 'timeout' | null };

/**
 * Run `body` with a signal that fires on the run's abort or on the migration timeout, cancelling
 * the statement in flight on the server when it does.
 */
async function withCancellation<T>(context: ApplyContext, body: (signal: AbortSignal, setBackend: (pid: number) => void) => Promise<T>): Promise<Outcome<T>> {
  const controller = new AbortController();
  let backend: number | null = null;
  let reason: 'aborted' | 'timeout' | null = null;
  const cancel = (why: 'aborted' | 'timeout') => {
    if (reason !== null) return;
    reason = why;
    controller.abort(why);
    if (backend !== null) void context.cancelBackend(backend).catch(() => undefined);
  };
  const onAbort = () => cancel('aborted');
  context.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = context.config.migrationTimeout > 0 ? setTimeout(() => cancel('timeout'), context.config.migrationTimeout) : null;
  try {
    if (context.signal?.aborted) cancel('aborted');
    return { value: await body(controller.signal, (pid) => { backend = pid; }) };
  } catch (error) {
    return { error, reason };
  } finally {
    context.signal?.removeEventListener('abort', onAbort);
    if (timer !== null) clearTimeout(timer);
  }
}

/** Apply or revert one migration on `connection` (a connection of the run's pool). */
export async function applyMigration(connection: CommonQueryMethods, item: Prepared, context: ApplyContext): Promise<MigrationResult> {
  const { migration, direction, options } = item;
  const started = performance.now();
  const position: Position = { statement: null, index: -1, completed: 0 };
  const settings = timeoutSettings(context.config, options);

  const outcome = await withCancellation(context, async (signal, setBackend) => {
    const pid = await backendPid(connection);
    setBackend(pid);
    await context.emit({ type: 'migration:backend', version: migration.version, pid });

    const runBody = async (target: CommonQueryMethods, local: boolean) => {
      for (const setting of settings) await target.query(rawQuery(`set ${local ? 'local ' : ''}${setting}`));
      if ('statements' in item) {
        for (const [index, statement] of item.statements.entries()) {
          if (signal.aborted) throw signal.reason;
          position.statement = statement;
          position.index = index;
          await target.query(rawQuery(statement.sql));
          position.completed = index + 1;
        }
        position.statement = null;
      } else {
        await item.run(moduleContext(target, migration, signal, context));
      }
    };
    const record = async (target: CommonQueryMethods) => {
      if (direction === 'up') {
        await insertApplied(target, context.config, {
          version: migration.version, name: migration.name, checksum: migration.checksum,
          durationMs: performance.now() - started, appliedBy: context.appliedBy,
        });
      } else {
        await deleteApplied(target, context.config, migration.version);
      }
      await appendLog(target, context.config, {
        version: migration.version, name: migration.name, direction, checksum: migration.checksum, outcome: 'succeeded',
        appliedBy: context.appliedBy, durationMs: performance.now() - started, error: null, statementsRun: null,
      });
    };

    if (options.transaction) {
      await connection.transaction(async (transaction) => {
        await runBody(transaction, true);
        await record(transaction);
      }, 0);
    } else {
      // Session-level settings for a non-transactional migration, restored afterwards.
      const saved = settings.length === 0 ? null : await connection.one(sql.type(savedSettings)`
        select current_setting('lock_timeout') as lock_timeout, current_setting('statement_timeout') as statement_timeout`);
      try {
        await runBody(connection, false);
      } finally {
        if (saved !== null) {
          await connection.query(sql.unsafe`select set_config('lock_timeout', ${saved.lock_timeout}, false), set_config('statement_timeout', ${saved.statement_timeout}, false)`).catch(() => undefined);
        }
      }
      await connection.transaction((transaction) => record(transaction), 0);
    }
  });

  // PostgreSQL's position counts characters within the statement that failed.
  const at = findPgError('error' in outcome ? outcome.error : null)?.position ?? null;
  const positionInStatement = at === null || position.statement === null ? null : indexOfCharPosition(position.statement.sql, at) + 1;
  return finish(connection, item, context, { started, position, outcome, positionInStatement });
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
export async function applyInBatch(batch: BatchSession, logTo: CommonQueryMethods, item: BatchablePrepared, context: ApplyContext): Promise<MigrationResult> {
  const { migration, direction, options, statements } = item;
  const started = performance.now();
  const position: Position = { statement: null, index: -1, completed: 0 };
  let positionInStatement: number | null = null;
  const script = transactionScript(
    statements,
    timeoutSettings(context.config, options),
    recordStatements(context.config, migration, direction, { appliedBy: context.appliedBy, duration: 'measured' }),
  );

  const committed = async () => (await isApplied(logTo, context.config, migration.version)) === (direction === 'up');

  const outcome = await withCancellation(context, async (signal, setBackend) => {
    const pid = await batch.prepare();
    setBackend(pid);
    await context.emit({ type: 'migration:backend', version: migration.version, pid });
    if (signal.aborted) throw signal.reason;
    const sent = await cancelUntilSettled(batch.run(script.text), signal, () => context.cancelBackend(pid));
    if (sent.ok) return;
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
    if (index >= statements.length && (await committed())) return;
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
  return finish(logTo, item, context, { started, position, outcome, positionInStatement });
}

/**
 * Which statement of the migration failed: the one after the last that completed (`begin` and
 * the settings complete first). Before anything completed, PostgreSQL rejected the whole script
 * while parsing it (a syntax this server does not know): its position says where. Past the last
 * statement: the recording statements or the commit.
 */
function statementAt(script: TransactionScript, completed: number, position: number | null): number {
  const index = completed - script.before;
  if (index >= 0 || position === null) return index;
  const at = indexOfCharPosition(script.text, position);
  let found = -1;
  for (const [candidate, start] of script.starts.entries()) if (start <= at) found = candidate;
  return found;
}

/** How often a cancel is sent again while a batch it missed is still running. */
const CANCEL_RETRY_MS = 50;

/**
 * Once `signal` fires, cancel the batch in flight, again and again until it settles: PostgreSQL
 * drops a cancel that reaches the backend before it started reading the query (it was still
 * finishing the previous one, or the bytes were in flight), and the whole migration would then
 * run to its commit.
 */
async function cancelUntilSettled<T>(running: Promise<T>, signal: AbortSignal, cancel: () => Promise<void>): Promise<T> {
  let settled = false;
  const retry = async () => {
    while (!settled) {
      await cancel().catch(() => undefined);
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
  }
}

/** The result of a migration that ran, or its typed error, logged outside its transaction. */
async function finish(
  logTo: CommonQueryMethods,
  item: Prepared,
  context: ApplyContext,
  run: { started: number; position: Position; outcome: Outcome<unknown>; positionInStatement: number | null },
): Promise<MigrationResult> {
  const { migration, direction, options } = item;
  const { started, position, outcome } = run;
  if ('value' in outcome) {
    return { version: migration.version, name: migration.name, file: migration.file, direction, durationMs: Math.round(performance.now() - started) };
  }
  const failure = toFailure(item, position, outcome.error, outcome.reason, context, run.positionInStatement);
  // The migration's transaction is gone; the log entry goes in on its own.
  const partial = !options.transaction && (position.completed > 0 || !('statements' in item));
  await appendLog(logTo, context.config, {
    version: migration.version, name: migration.name, direction, checksum: migration.checksum,
    outcome: partial ? 'partial' : 'failed', appliedBy: context.appliedBy, durationMs: performance.now() - started,
    error: `${failure.code}: ${failure.message}`, statementsRun: 'statements' in item ? position.completed : null,
  }).catch(() => undefined);
  throw failure;
}

function moduleContext(target: CommonQueryMethods, migration: MigrationFile, signal: AbortSignal, context: ApplyContext): MigrationContext {
  return {
    connection: target,
    sql,
    signal,
    version: migration.version,
    name: migration.name,
    progress: (message, counts) => {
      void context.emit({ type: 'migration:progress', version: migration.version, message: String(message), done: counts?.done ?? null, total: counts?.total ?? null });
    },
  };
}

/** `positionInStatement`: PostgreSQL's 1-based error position within the failing statement, if any. */
function toFailure(item: Prepared, position: Position, error: unknown, reason: 'aborted' | 'timeout' | null, context: ApplyContext, positionInStatement: number | null): OffloopError {
  const { migration, direction, options } = item;
  if (error instanceof OffloopError && !(error instanceof MigrationFailedError)) return error as OffloopError;
  const pg = findPgError(error);
  const message = pg?.message ?? (error instanceof Error ? error.message : String(error));
  let line: number | null = null;
  let column: number | null = null;
  if (position.statement !== null && migration.kind === 'sql') {
    const offset = position.statement.offset + (positionInStatement ?? 1) - 1;
    ({ line, column } = lineColumnAt(migration.source, offset));
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
  };
  const where = line === null ? migration.file : `${migration.file}:${line}:${column}`;
  const which = position.statement === null ? '' : `, statement ${position.index + 1} of ${statementCount}`;
  const leftPartial = !options.transaction && (position.completed > 0 || !('statements' in item));
  const aftermath = options.transaction
    ? `Migration ${migration.version} was rolled back`
    : leftPartial
      ? `Migration ${migration.version} is not transactional: ${'statements' in item ? `${position.completed} of its statements ran and stay applied` : 'what its module did before failing stays applied'}; the next run will refuse to continue until you fix the file and re-run, or run \`offloop repair\``
      : `Migration ${migration.version} is not transactional, but none of its statements ran`;
  const kept = `${context.done.length} earlier migration${context.done.length === 1 ? '' : 's'} of this run ${context.done.length === 1 ? 'stays' : 'stay'} ${direction === 'up' ? 'applied' : 'reverted'}`;
  const sqlstate = pg ? ` (SQLSTATE ${pg.sqlstate})` : '';

  if (reason === 'aborted') {
    return new RunAbortedError(`The run was cancelled during ${where}${which}. ${aftermath}; ${kept}.`, { applied: [...context.done] }, { cause: error });
  }
  if (reason === 'timeout') {
    return new MigrationTimeoutError(`${where}: migration ${migration.version} ran longer than migrationTimeout (${context.config.migrationTimeout} ms) and was cancelled${which}. ${aftermath}; ${kept}.`, { ...details, timeoutMs: context.config.migrationTimeout }, { cause: error });
  }
  if (pg?.sqlstate === '57014') {
    return new StatementTimeoutError(`${where}: ${message}${sqlstate}${which}: the statement ran longer than statement_timeout. ${aftermath}; ${kept}.`, details, { cause: error });
  }
  if (pg?.sqlstate === '55P03') {
    return new LockNotAvailableError(`${where}: ${message}${sqlstate}${which}: another session held a lock longer than lock_timeout. ${aftermath}; ${kept}.`, details, { cause: error });
  }
  return new MigrationFailedError(`${where}: ${message}${sqlstate}${which}. ${aftermath}; ${kept}.`, details, { cause: error });
}
