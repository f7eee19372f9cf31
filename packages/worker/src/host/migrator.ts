/**
 * The host API: {@link createMigrator}. The host validates options and owns one worker thread;
 * everything else (reading files, parsing, importing migration modules, all database work)
 * happens in that thread, so the host's event loop is never blocked by a migration. One call's
 * life across the thread boundary is a {@link Call}.
 */
import {
  ConfigError,
  formatConfigIssues,
  isOffloopError,
  messageOf,
  MigratorClosedError,
  parseConfig,
  WorkerFailedError,
  toConfigIssues,
  type CheckResult,
  type LintResult,
  type CommandName,
  type CommandResults,
  type CurrentResult,
  type DownResult,
  type HistoryResult,
  type PlanResult,
  type RedoResult,
  type RepairResult,
  type ResolvedConfig,
  type SqlResult,
  type StampResult,
  type StatusResult,
  type UpResult,
} from '@offloop/core';
import type { z } from 'zod';
import { Call, type CallContext } from './call.ts';
import { parseCall } from './operations.ts';
import { Readiness } from './readiness.ts';
import { BufferedMigrationRun } from './migration-run.ts';
import type {
  CallOptions,
  CheckOptions,
  LintOptions,
  DownOptions,
  MigrationRun,
  MigratorOptions,
  RedoOptions,
  RepairOptions,
  ScriptOptions,
  StampOptions,
  UpOptions,
} from './types.ts';
import { WorkerThread } from './worker-thread.ts';

/** Runs migrations in a worker thread. Create one with {@link createMigrator}. */
export type Migrator = AsyncDisposable & {
  /** The validated configuration. */
  readonly config: ResolvedConfig;
  /**
   * Whether the schema is ready, following this migrator's `up()` calls: `pending`, `migrating`,
   * `ready`, `failed`. Observe it with `change` events or `for await`; gate health checks on it
   * with `healthCheck(migrator.readiness)`.
   */
  readonly readiness: Readiness;
  /**
   * Apply pending migrations, each in its own transaction, under an advisory lock. Resolves with
   * what was applied; rejects with an `OffloopError` (see `docs/errors.md`).
   */
  up(options?: UpOptions): MigrationRun<UpResult>;
  /** Compare the migrations directory with the database. Read-only. */
  status(options?: CallOptions): MigrationRun<StatusResult>;
  /**
   * Revert applied migrations, the last applied first: one by default, `step` of them, or back to where the database was right after `to` was applied.
   * Every migration to revert is checked for a down step before anything runs.
   */
  down(options?: DownOptions): MigrationRun<DownResult>;
  /** Revert the last `step` migrations applied (default 1) and apply them again. */
  redo(options?: RedoOptions): MigrationRun<RedoResult>;
  /** Applied migrations, newest first, and the log of everything that happened. Read-only. */
  history(options?: CallOptions): MigrationRun<HistoryResult>;
  /** The newest applied migration. Read-only. */
  current(options?: CallOptions): MigrationRun<CurrentResult>;
  /** Record the database as being at a version without running anything (to adopt an existing database). */
  stamp(options: StampOptions): MigrationRun<StampResult>;
  /** Accept edited checksums, clear failed non-transactional runs, and (with `forgetMissing`) forget missing files. */
  repair(options?: RepairOptions): MigrationRun<RepairResult>;
  /** Resolve when everything is applied and consistent; reject with the typed reason otherwise. Read-only. */
  check(options?: CheckOptions): MigrationRun<CheckResult>;
  /**
   * The lint findings (docs/lint.md) of the pending migrations, graded by the sizes of the tables
   * they touch; with `offline` or `all`, of every migration. Read-only; offline, needs no database.
   */
  lint(options?: LintOptions): MigrationRun<LintResult>;
  /** What `up` or `down` would do, in order, with statement counts and options. Read-only. */
  plan(options?: ScriptOptions): MigrationRun<PlanResult>;
  /** The exact SQL script `up` or `down` would run. With `from`, needs no database. Never writes or locks. */
  sql(options?: ScriptOptions): MigrationRun<SqlResult>;
  /**
   * Start the worker thread, load the engine and open the connection the calls use now rather
   * than on the first call, and resolve when they are ready. A server that calls it at boot answers its first `status()` (a health
   * check, say) in the time of the call's own work instead of the thread's start-up
   * (docs/servers.md, "A warm thread"). The thread then stays as after any call, for
   * `workerIdleTimeout`, with the connection. A database that cannot be reached does not fail it
   * (the next call reports that, typed); it resolves then within `connectTimeout`. Rejects with `MIGRATOR_CLOSED` when the migrator is (or
   * gets) closed first, `WORKER_ENTRY_NOT_FOUND` or `WORKER_FAILED` when the thread cannot start.
   */
  warm(): Promise<void>;
  /**
   * Stop the worker thread. A call still running is cancelled like an abort (and rejects with
   * `MIGRATOR_CLOSED`); afterwards nothing of the migrator is left running.
   */
  close(): Promise<void>;
};

/**
 * Create a migrator. Options are validated at once: an invalid option throws a `ConfigError`
 * that lists every problem. No thread starts until the first call (or `warm()`).
 *
 * @example
 * ```ts
 * import { createMigrator } from '@offloop/worker';
 *
 * await using migrator = createMigrator({ url: process.env.DATABASE_URL, dir: './migrations' });
 * const { applied } = await migrator.up({ timeout: '10m', onProgress: (event) => log.info(event) });
 * ```
 */
export function createMigrator(options: MigratorOptions): Migrator {
  return new ThreadMigrator(parseConfig(options, 'migrator options'));
}

/**
 * A {@link Migrator} over one worker thread: its calls queue up for the thread (Piscina's
 * queue); closing it stops the calls still running, then the thread.
 */
class ThreadMigrator implements Migrator {
  readonly config: ResolvedConfig;
  readonly readiness = new Readiness();
  readonly #context: CallContext;
  readonly #thread: WorkerThread;
  #closed = false;
  /** Calls not settled yet, with a promise that settles (never rejects) when each has. */
  readonly #calls = new Map<Pick<Call<CommandName>, 'stop'>, Promise<unknown>>();

  constructor(config: ResolvedConfig) {
    this.config = config;
    this.#thread = new WorkerThread(config);
    this.#context = { config, thread: this.#thread, isClosed: () => this.#closed };
  }

  up(options: UpOptions = {}): MigrationRun<UpResult> {
    const run = this.#call('up', options);
    this.readiness.track(run.result);
    return run;
  }

  status(options: CallOptions = {}): MigrationRun<StatusResult> {
    return this.#call('status', options);
  }

  down(options: DownOptions = {}): MigrationRun<DownResult> {
    return this.#call('down', options);
  }

  redo(options: RedoOptions = {}): MigrationRun<RedoResult> {
    return this.#call('redo', options);
  }

  history(options: CallOptions = {}): MigrationRun<HistoryResult> {
    return this.#call('history', options);
  }

  current(options: CallOptions = {}): MigrationRun<CurrentResult> {
    return this.#call('current', options);
  }

  stamp(options: StampOptions): MigrationRun<StampResult> {
    return this.#call('stamp', options);
  }

  repair(options: RepairOptions = {}): MigrationRun<RepairResult> {
    return this.#call('repair', options);
  }

  check(options: CheckOptions = {}): MigrationRun<CheckResult> {
    return this.#call('check', options);
  }

  lint(options: LintOptions = {}): MigrationRun<LintResult> {
    return this.#call('lint', options);
  }

  plan(options: ScriptOptions = {}): MigrationRun<PlanResult> {
    return this.#call('plan', options);
  }

  sql(options: ScriptOptions = {}): MigrationRun<SqlResult> {
    return this.#call('sql', options);
  }

  async warm(): Promise<void> {
    const closed = () => new MigratorClosedError('This migrator was closed; create a new one.', {});
    if (this.#closed) throw closed();
    try {
      await this.#thread.warm(this.config);
    } catch (error) {
      if (this.#closed) throw closed();
      if (isOffloopError(error)) throw error;
      const reason = messageOf(error);
      throw new WorkerFailedError(`The worker thread could not start: ${reason}`, { reason });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of this.#calls.keys()) call.stop({ kind: 'closed' });
    await Promise.all(this.#calls.values());
    await this.#thread.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Validate a call's options, then run its command in the worker thread. */
  #call<N extends CommandName>(
    name: N,
    options: CallOptions,
  ): BufferedMigrationRun<CommandResults[N]> {
    const { onProgress, signal, ...rest } = options;
    const parsed = parseCall(name, rest);
    if (!parsed.success) return rejected(parsed.error, `${name}() options`);
    const call = new Call(this.#context, parsed.command, {
      onProgress,
      signal,
      timeoutMs: parsed.timeoutMs,
    });
    const settled = call.run.result.catch(() => undefined);
    this.#calls.set(call, settled);
    void settled.finally(() => this.#calls.delete(call));
    return call.run;
  }
}

/** A call whose options are invalid: it fails with a `ConfigError` listing every problem. */
function rejected<T>(error: z.ZodError, source: string): BufferedMigrationRun<T> {
  const issues = toConfigIssues(error);
  return new BufferedMigrationRun<T>(
    Promise.reject(new ConfigError(formatConfigIssues(issues, source), { issues })),
  );
}
