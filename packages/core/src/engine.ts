/**
 * The engine: applies a plan over slonik. Runs inside the worker thread (the host never
 * imports slonik); usable directly on any thread, which the benchmark's baseline does.
 */
import { hostname, userInfo } from 'node:os';
import { sql } from 'slonik';
import type { CommandName, CommandResult, CommandResults, EngineCommand } from './commands.ts';
import type { ResolvedConfig } from './config.ts';
import type { MigrationContext, MigrationModule } from './context.ts';
import { findPgError, rawQuery, withPools, type Pools } from './database.ts';
import { discoverMigrations } from './discover.ts';
import { MigrationFailedError, RunAbortedError, type MigrationResult } from './errors.ts';
import type { ProgressEvent } from './events.ts';
import { lockKeyFor, withAdvisoryLock } from './lock.ts';
import type { MigrationFile, ModuleMigrationFile, SqlMigrationFile } from './migration.ts';
import { loadMigrationModule } from './module-migration.ts';
import { assertRunnable, plan } from './plan.ts';
import type { StatusResult, UpResult } from './results.ts';
import { lineColumnAt } from './source-position.ts';
import { loadParser, splitSection, type Statement } from './split.ts';
import { ensureVersionTable, insertApplied, readApplied, versionTableExists } from './version-table.ts';

/** Options of one engine call. */
export type EngineOptions = {
  /** Receives progress events; awaited, so events arrive in order before the call settles. */
  readonly onProgress?: ((event: ProgressEvent) => Promise<void> | void) | undefined;
  readonly signal?: AbortSignal | undefined;
};

/** Run one engine command. The worker calls this for every task. */
export async function execute<C extends EngineCommand>(config: ResolvedConfig, command: C, options: EngineOptions = {}): Promise<CommandResult<C>> {
  const result = await dispatch(config, command, options);
  return result as CommandResult<C>;
}

function dispatch(config: ResolvedConfig, command: EngineCommand, options: EngineOptions): Promise<CommandResults[CommandName]> {
  switch (command.name) {
    case 'up':
      return up(config, { ...options, to: command.to });
    case 'status':
      return status(config, options);
  }
}

/** A pending migration, checked and ready to run. */
type Prepared =
  | { readonly migration: SqlMigrationFile; readonly statements: readonly Statement[] }
  | { readonly migration: ModuleMigrationFile; readonly module: MigrationModule };

/**
 * Apply pending migrations, each in its own transaction with its version row, under the run's
 * advisory lock. Every pending file is parsed (SQL) or imported (modules) before the first one
 * runs.
 */
export async function up(config: ResolvedConfig, options: EngineOptions & { readonly to?: string | undefined } = {}): Promise<UpResult> {
  const emit = options.onProgress ?? (() => undefined);
  const started = performance.now();
  await emit({ type: 'run:started', command: 'up', dir: config.dir, at: new Date().toISOString() });
  const files = await discoverMigrations(config.dir);
  await loadParser();
  const key = lockKeyFor(config.schema, config.table);

  const applied: MigrationResult[] = [];
  const current = await withPools(config, async (pools) =>
    withAdvisoryLock(pools.lockPool, {
      key,
      timeoutMs: config.lockTimeout,
      signal: options.signal,
      onWaiting: (waitedMs, holderPid) => emit({ type: 'lock:waiting', lockKey: key, waitedMs, timeoutMs: config.lockTimeout, holderPid }),
      onAcquired: (waitedMs) => emit({ type: 'lock:acquired', lockKey: key, waitedMs }),
    }, async () => {
      await ensureVersionTable(pools.pool, config);
      const result = plan(files, await readApplied(pools.pool, config), { to: options.to });
      assertRunnable(result);
      await emit({ type: 'plan:ready', pending: result.pending.map(({ version, name }) => ({ version, name })), appliedCount: result.applied.length });
      const prepared = await prepareAll(result.pending);
      for (const [index, item] of prepared.entries()) {
        throwIfAborted(options.signal, applied);
        const total = prepared.length;
        const { version, name, file } = item.migration;
        await emit({ type: 'migration:started', version, name, file, index: index + 1, total });
        const finished = await applyOne(pools, config, item, applied, options);
        applied.push(finished);
        await emit({ type: 'migration:finished', ...finished, index: index + 1, total });
      }
      return applied.at(-1)?.version ?? result.current;
    }),
  { lock: true });

  const durationMs = Math.round(performance.now() - started);
  await emit({ type: 'run:finished', applied: applied.length, durationMs });
  return { applied, current, durationMs };
}

/** Read-only: compare the directory with the version table. Takes no lock, creates nothing. */
export async function status(config: ResolvedConfig, options: EngineOptions = {}): Promise<StatusResult> {
  await options.onProgress?.({ type: 'run:started', command: 'status', dir: config.dir, at: new Date().toISOString() });
  const files = await discoverMigrations(config.dir);
  return withPools(config, async ({ pool }) => {
    const initialized = await versionTableExists(pool, config);
    const result = plan(files, initialized ? await readApplied(pool, config) : []);
    return {
      applied: result.applied,
      pending: result.pending.map(({ version, name, file }) => ({ version, name, file })),
      problems: result.problems,
      current: result.current,
      initialized,
    };
  }, { lock: false });
}

async function prepareAll(pending: readonly MigrationFile[]): Promise<Prepared[]> {
  const prepared: Prepared[] = [];
  for (const migration of pending) {
    if (migration.kind === 'sql') prepared.push({ migration, statements: splitSection(migration, migration.up) });
    else prepared.push({ migration, module: await loadMigrationModule(migration) });
  }
  return prepared;
}

function throwIfAborted(signal: AbortSignal | undefined, applied: readonly MigrationResult[]): void {
  if (signal?.aborted) {
    throw new RunAbortedError(`The run was cancelled after ${applied.length} migration${applied.length === 1 ? '' : 's'}.`, { applied: [...applied] }, { cause: signal.reason });
  }
}

const defaultAppliedBy = (() => {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return hostname();
  }
})();

async function applyOne(pools: Pools, config: ResolvedConfig, item: Prepared, applied: readonly MigrationResult[], options: EngineOptions): Promise<MigrationResult> {
  const { migration } = item;
  const started = performance.now();
  let failedAt: { index: number; statement: Statement } | null = null;
  try {
    await pools.pool.connect((connection) =>
      connection.transaction(async (transaction) => {
        if (item.migration.kind === 'sql' && 'statements' in item) {
          for (const [index, statement] of item.statements.entries()) {
            throwIfAborted(options.signal, applied);
            failedAt = { index, statement };
            await transaction.query(rawQuery(statement.sql));
          }
          failedAt = null;
        } else if ('module' in item) {
          const context: MigrationContext = {
            connection: transaction,
            sql,
            signal: options.signal ?? new AbortController().signal,
            version: migration.version,
            name: migration.name,
            progress: (message, counts) => {
              void options.onProgress?.({ type: 'migration:progress', version: migration.version, message: String(message), done: counts?.done ?? null, total: counts?.total ?? null });
            },
          };
          await item.module.up(context);
        }
        await insertApplied(transaction, config, {
          version: migration.version,
          name: migration.name,
          checksum: migration.checksum,
          durationMs: performance.now() - started,
          appliedBy: config.appliedBy ?? defaultAppliedBy,
        });
      }, 0),
    );
  } catch (error) {
    if (error instanceof RunAbortedError) throw error;
    throw migrationFailed(item, failedAt, error, applied);
  }
  return { version: migration.version, name: migration.name, file: migration.file, direction: 'up', durationMs: Math.round(performance.now() - started) };
}

function migrationFailed(item: Prepared, failedAt: { index: number; statement: Statement } | null, error: unknown, applied: readonly MigrationResult[]): MigrationFailedError {
  const { migration } = item;
  const pg = findPgError(error);
  const reason = pg?.message ?? (error instanceof Error ? error.message : String(error));
  let line: number | null = null;
  let column: number | null = null;
  if (failedAt !== null && migration.kind === 'sql') {
    // PostgreSQL's position is 1-based within the statement we sent.
    const offset = failedAt.statement.offset + (pg?.position ?? 1) - 1;
    ({ line, column } = lineColumnAt(migration.source, offset));
  }
  const statementCount = 'statements' in item ? item.statements.length : null;
  const where = line === null ? migration.file : `${migration.file}:${line}:${column}`;
  const which = failedAt === null ? '' : `, statement ${failedAt.index + 1} of ${statementCount}`;
  return new MigrationFailedError(
    `${where}: ${reason}${pg ? ` (SQLSTATE ${pg.sqlstate})` : ''}${which}. Migration ${migration.version} was rolled back; ${applied.length} earlier migration${applied.length === 1 ? '' : 's'} of this run stay applied.`,
    {
      version: migration.version,
      name: migration.name,
      file: migration.file,
      line,
      column,
      statement: failedAt === null ? null : failedAt.index + 1,
      statementCount,
      sqlstate: pg?.sqlstate ?? null,
      detail: pg?.detail ?? null,
      hint: pg?.hint ?? null,
      applied: [...applied],
    },
    { cause: error },
  );
}
