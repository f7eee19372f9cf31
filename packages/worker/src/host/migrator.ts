/**
 * The host API. The host validates options and owns a Piscina pool of one thread; everything
 * else (reading files, parsing, importing migration modules, all database work) happens in that
 * thread, so the host's event loop is never blocked by a migration.
 *
 * Stopping a call, in order of preference: ask the worker over the control port (the engine stops
 * between statements and cancels a running statement on the server); after `cancelGracePeriod`,
 * terminate the thread and cancel what it left running on the server from a fresh thread
 * (`cancel-entry.ts`). A thread that dies by itself (out of memory, `process.exit()`, an uncaught
 * error) gets the same server-side cleanup.
 */
import {
  callOptionsSchema,
  ConfigError,
  formatConfigIssues,
  fromEnvelope,
  MigrationTimeoutError,
  MigratorClosedError,
  parseConfig,
  RunAbortedError,
  RunTimeoutError,
  toConfigIssues,
  upOptionsSchema,
  WorkerFailedError,
  WorkerOutOfMemoryError,
  WorkerUnresponsiveError,
  type CommandResult,
  type EngineCommand,
  type MigrationResult,
  type OffloopError,
  type ProgressEvent,
  type ResolvedConfig,
  type StatusResult,
  type UpResult,
  type CheckResult,
  type CurrentResult,
  type DownResult,
  type HistoryResult,
  type PlanResult,
  type RedoResult,
  type RepairResult,
  type SqlResult,
  type StampResult,
  checkOptionsSchema,
  describeKept,
  downOptionsSchema,
  redoOptionsSchema,
  repairOptionsSchema,
  scriptOptionsSchema,
  stampOptionsSchema,
} from '@offloop/core';
import * as Comlink from 'comlink';
import type { z } from 'zod';
import { randomBytes } from 'node:crypto';
import { MessageChannel, type ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { CrashOutcome, InFlightMigration } from '@offloop/core/engine';
import type {
  CancelRequest,
  CancelResponse,
  HostChannel,
  TaskRequest,
  TaskResponse,
  WorkerControl,
} from '../protocol.ts';
import { Readiness } from './readiness.ts';
import { Run } from './run.ts';
import type {
  CallOptions,
  CheckOptions,
  DownOptions,
  MigrationRun,
  MigratorOptions,
  RedoOptions,
  RepairOptions,
  ScriptOptions,
  StampOptions,
  UpOptions,
} from './types.ts';

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
  /** What `up` or `down` would do, in order, with statement counts and options. Read-only. */
  plan(options?: ScriptOptions): MigrationRun<PlanResult>;
  /** The exact SQL script `up` or `down` would run. With `from`, needs no database. Never writes or locks. */
  sql(options?: ScriptOptions): MigrationRun<SqlResult>;
  /**
   * Stop the worker thread. A call still running is cancelled like an abort (and rejects with
   * `MIGRATOR_CLOSED`); afterwards nothing of the migrator is left running.
   */
  close(): Promise<void>;
};

// Inside the workspace the TypeScript source runs directly; the published package runs dist/*.js.
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const WORKER_FILE = new URL(`../thread/worker-boot${EXTENSION}`, import.meta.url).href;
const CANCEL_FILE = new URL(`../thread/cancel-entry${EXTENSION}`, import.meta.url).href;

/** How long the cancel thread waits for cancelled backends to exit before terminating them. */
const CANCEL_WAIT_MS = 1_000;

/** Why a call was asked to stop. */
type StopReason =
  | { readonly kind: 'abort'; readonly cause: unknown }
  | { readonly kind: 'timeout'; readonly timeoutMs: number }
  | { readonly kind: 'closed' }
  // The worker did not end a migration at its migrationTimeout (its loop is blocked).
  | {
      readonly kind: 'migration-timeout';
      readonly migration: InFlightMigration;
      readonly timeoutMs: number;
    };

/** The migration a call's thread is running, as its events say. */
type InFlight = InFlightMigration & { readonly startedAt: number };

/**
 * Create a migrator. Options are validated at once: an invalid option throws a `ConfigError`
 * that lists every problem. No thread starts until the first call.
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
  const config = parseConfig(options, 'migrator options');
  const readiness = new Readiness();
  let pool: Piscina | null = null;
  let closed = false;
  /** Calls in flight: how to stop each, and a promise that settles when it has. */
  const running = new Map<Promise<unknown>, (reason: StopReason) => void>();

  const getPool = (): Piscina => {
    // One thread: calls on one migrator queue up; concurrency between runners is the lock's job.
    // A thread that died or was terminated is replaced on the next call.
    pool ??= new Piscina({
      filename: WORKER_FILE,
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: 1_000,
      concurrentTasksPerWorker: 1,
      ...(config.workerResourceLimits === null
        ? {}
        : { resourceLimits: resourceLimits(config.workerResourceLimits) }),
    });
    return pool;
  };

  function call<C extends EngineCommand>(
    command: C,
    options: CallOptions & { readonly timeoutMs: number | undefined },
  ): Run<CommandResult<C>> {
    const events = new MessageChannel();
    const control = new MessageChannel();
    const { onProgress: listener, signal, timeoutMs } = options;
    const runTag = `offloop:${randomBytes(6).toString('hex')}`;
    // Results so far, for errors raised on the host when the worker cannot report them.
    const applied: MigrationResult[] = [];
    // What the thread is doing, for errors when it dies: the migration it runs, the file it imports.
    let inFlight: InFlight | null = null;
    let loading: string | null = null;
    let migrationTimer: NodeJS.Timeout | undefined;
    let started = false;
    let run: Run<CommandResult<C>> | null = null;
    const host: HostChannel = {
      started: () => {
        started = true;
      },
      progress: (batch: readonly ProgressEvent[]) => {
        for (const event of batch) {
          if (event.type === 'migration:loading') loading = event.file;
          if (event.type === 'plan:ready') loading = null;
          if (event.type === 'migration:started') {
            loading = null;
            const { version, name, file, direction, transactional, checksum } = event;
            inFlight = {
              version,
              name,
              file,
              direction,
              transactional,
              checksum,
              startedAt: performance.now(),
            };
            clearTimeout(migrationTimer);
            // The worker ends a migration at its migrationTimeout itself; this is the backstop for
            // a thread whose loop is blocked (a module spinning in JavaScript), which cannot: the
            // same migration still running cancelGracePeriod later has its thread terminated.
            if (config.migrationTimeout > 0) {
              const migration = inFlight;
              migrationTimer = setTimeout(() => {
                if (inFlight === migration)
                  giveUp({
                    kind: 'migration-timeout',
                    migration,
                    timeoutMs: config.migrationTimeout,
                  });
              }, config.migrationTimeout + config.cancelGracePeriod);
            }
          }
          if (event.type === 'migration:finished') {
            inFlight = null;
            clearTimeout(migrationTimer);
            applied.push({
              version: event.version,
              name: event.name,
              file: event.file,
              direction: event.direction,
              durationMs: event.durationMs,
            });
          }
          run?.push(event);
          if (listener !== undefined) queueMicrotask(() => listener(event));
        }
      },
    };
    let requestStop: (reason: StopReason) => void = () => undefined;
    // Stop waiting for a thread that cannot answer: terminate it.
    let giveUp: (reason: StopReason) => void = () => undefined;

    const result = (async (): Promise<CommandResult<C>> => {
      if (closed) throw new MigratorClosedError('This migrator was closed; create a new one.', {});
      if (signal?.aborted)
        throw new RunAbortedError(
          'The run was cancelled before it started.',
          { applied: [] },
          { cause: signal.reason },
        );
      Comlink.expose(host, events.port1);
      const worker = Comlink.wrap<WorkerControl>(control.port1);
      const taskAbort = new AbortController();
      const unresponsive = Promise.withResolvers<{ readonly kind: 'unresponsive' }>();
      // Read through a function: assignments in the closure below are invisible to narrowing.
      let stopReason: StopReason | null = null;
      const stopped = (): StopReason | null => stopReason;
      let graceTimer: NodeJS.Timeout | undefined;
      requestStop = (reason) => {
        if (stopReason !== null) return;
        stopReason = reason;
        // Still queued behind another call: Piscina drops it from the queue.
        if (!started) return taskAbort.abort();
        void worker.abort(describeStop(reason)).catch(() => undefined);
        graceTimer = setTimeout(
          () => unresponsive.resolve({ kind: 'unresponsive' }),
          config.cancelGracePeriod,
        );
      };
      giveUp = (reason) => {
        stopReason ??= reason;
        unresponsive.resolve({ kind: 'unresponsive' });
      };
      const onAbort = () => requestStop({ kind: 'abort', cause: signal?.reason });
      signal?.addEventListener('abort', onAbort, { once: true });
      const timeoutTimer =
        timeoutMs === undefined || timeoutMs === 0
          ? undefined
          : setTimeout(() => requestStop({ kind: 'timeout', timeoutMs }), timeoutMs);
      try {
        const request: TaskRequest = {
          command,
          config,
          events: events.port2,
          control: control.port2,
          runTag,
        };
        const task = getPool()
          .run(request, { transferList: [events.port2, control.port2], signal: taskAbort.signal })
          .then(
            (response) =>
              ({ kind: 'settled', response: response as TaskResponse<CommandResult<C>> }) as const,
            (error: unknown) => ({ kind: 'crashed', error }) as const,
          );
        const outcome = await Promise.race([task, unresponsive.promise]);
        switch (outcome.kind) {
          case 'settled': {
            if (outcome.response.ok) return outcome.response.value;
            const error = fromEnvelope(outcome.response.error);
            const reason = stopped();
            if (reason !== null && error.code === 'RUN_ABORTED')
              throw stopError(reason, appliedOf(error) ?? applied, error);
            throw error;
          }
          case 'crashed': {
            const reason = stopped();
            if (reason !== null && !started) throw stopError(reason, applied, outcome.error);
            const running = inFlight as InFlight | null;
            const crash = describeCrash(outcome.error, closed);
            // The thread is gone, its sockets with it; a statement it started may still run.
            const cleanup = await cancelOnServer(config, runTag, running, crash.logLine);
            const kept = settleApplied(applied, running, cleanup.outcome ?? null);
            throw crashError(crash, outcome.error, kept, running, loading, cleanup.outcome ?? null);
          }
          case 'unresponsive': {
            const reason: StopReason = stopped() ?? { kind: 'closed' };
            taskAbort.abort(); // Piscina terminates the thread; a new one serves the next call.
            const running = inFlight as InFlight | null;
            const stopLine =
              reason.kind === 'migration-timeout'
                ? `MIGRATION_TIMEOUT: ran longer than migrationTimeout (${reason.timeoutMs} ms) without yielding; its thread was terminated`
                : `WORKER_UNRESPONSIVE: the thread did not stop within ${config.cancelGracePeriod} ms after ${describeStop(reason)} and was terminated`;
            const cleanup = await cancelOnServer(config, runTag, running, stopLine);
            const kept = settleApplied(applied, running, cleanup.outcome ?? null);
            const what = describeOutcome(running, cleanup.outcome ?? null);
            const cleanupFailure =
              cleanup.errors.length === 0
                ? null
                : new Error(
                    `Cancelling the run's statements on the server failed: ${cleanup.errors.join('; ')}`,
                  );
            if (reason.kind === 'migration-timeout') {
              const failure = migrationTimeoutError(reason, kept, what);
              throw cleanupFailure === null
                ? failure
                : new SuppressedError(cleanupFailure, failure, 'server-side cancel failed');
            }
            const stopFailure = stopError(reason, kept, undefined);
            const cause =
              cleanupFailure === null
                ? stopFailure
                : new SuppressedError(cleanupFailure, stopFailure, 'server-side cancel failed');
            throw new WorkerUnresponsiveError(
              `The migration worker did not stop within ${config.cancelGracePeriod} ms (cancelGracePeriod) after ${describeStop(reason)}; its thread was terminated` +
                ` and its statements cancelled on the server. ${what}${describeKept(kept)}`,
              { graceMs: config.cancelGracePeriod, applied: [...kept] },
              { cause },
            );
          }
        }
      } finally {
        clearTimeout(timeoutTimer);
        clearTimeout(graceTimer);
        clearTimeout(migrationTimer);
        signal?.removeEventListener('abort', onAbort);
        worker[Comlink.releaseProxy]();
        events.port1.close();
        control.port1.close();
      }
    })();
    run = new Run(result);
    const tracked = result.catch(() => undefined);
    running.set(tracked, (reason) => requestStop(reason));
    void tracked.finally(() => running.delete(tracked));
    return run;
  }

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const stop of running.values()) stop({ kind: 'closed' });
    await Promise.all(running.keys());
    const current = pool;
    pool = null;
    await current?.destroy();
  };

  /** A method for one engine operation: validate its options, then run it in the worker. */
  function operation<S extends z.ZodType<{ timeout?: number | undefined }>, R>(
    schema: S,
    source: string,
    build: (data: z.output<S>) => EngineCommand,
  ) {
    return (options: CallOptions & Record<string, unknown> = {}): Run<R> => {
      const { onProgress, signal, ...rest } = options;
      const parsed = schema.safeParse(rest);
      if (!parsed.success) return rejected<R>(parsed.error, source);
      return call(build(parsed.data), {
        onProgress,
        signal,
        timeoutMs: parsed.data.timeout,
      }) as unknown as Run<R>;
    };
  }

  return {
    config,
    readiness,
    up(options = {}) {
      const { onProgress, signal, ...rest } = options;
      const parsed = upOptionsSchema.safeParse(rest);
      const run = parsed.success
        ? call(
            {
              name: 'up',
              to: parsed.data.to,
              allowOutOfOrder: parsed.data.allowOutOfOrder,
              singleTransaction: parsed.data.singleTransaction,
            },
            { onProgress, signal, timeoutMs: parsed.data.timeout },
          )
        : rejected<UpResult>(parsed.error, 'up() options');
      readiness.track(run.result);
      return run;
    },
    status(options = {}) {
      const { onProgress, signal, ...rest } = options;
      const parsed = callOptionsSchema.safeParse(rest);
      if (!parsed.success) return rejected<StatusResult>(parsed.error, 'status() options');
      return call({ name: 'status' }, { onProgress, signal, timeoutMs: parsed.data.timeout });
    },
    down: operation(downOptionsSchema, 'down() options', (data): EngineCommand => ({
      name: 'down',
      step: data.step,
      to: data.to,
    })),
    redo: operation(redoOptionsSchema, 'redo() options', (data): EngineCommand => ({
      name: 'redo',
      step: data.step,
    })),
    history: operation(callOptionsSchema, 'history() options', (): EngineCommand => ({
      name: 'history',
    })),
    current: operation(callOptionsSchema, 'current() options', (): EngineCommand => ({
      name: 'current',
    })),
    stamp: operation(stampOptionsSchema, 'stamp() options', (data): EngineCommand => ({
      name: 'stamp',
      to: data.to,
    })),
    repair: operation(repairOptionsSchema, 'repair() options', (data): EngineCommand => ({
      name: 'repair',
      dryRun: data.dryRun,
      forgetMissing: data.forgetMissing,
    })),
    check: operation(checkOptionsSchema, 'check() options', (data): EngineCommand => ({
      name: 'check',
      allowOutOfOrder: data.allowOutOfOrder,
    })),
    plan: operation(scriptOptionsSchema, 'plan() options', (data): EngineCommand => ({
      name: 'plan',
      direction: data.direction,
      to: data.to,
      step: data.step,
      allowOutOfOrder: data.allowOutOfOrder,
    })),
    sql: operation(scriptOptionsSchema, 'sql() options', (data): EngineCommand => ({
      name: 'sql',
      direction: data.direction,
      from: data.from,
      to: data.to,
      step: data.step,
      allowOutOfOrder: data.allowOutOfOrder,
    })),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function rejected<T>(error: Parameters<typeof toConfigIssues>[0], source: string): Run<T> {
  const issues = toConfigIssues(error);
  return new Run<T>(
    Promise.reject(new ConfigError(formatConfigIssues(issues, source), { issues })),
  );
}

function resourceLimits(
  limits: NonNullable<ResolvedConfig['workerResourceLimits']>,
): ResourceLimits {
  const result: { -readonly [K in keyof ResourceLimits]: number } = {};
  for (const key of [
    'maxOldGenerationSizeMb',
    'maxYoungGenerationSizeMb',
    'codeRangeSizeMb',
    'stackSizeMb',
  ] as const) {
    const value = limits[key];
    if (value !== undefined) result[key] = value;
  }
  return result;
}

function describeStop(reason: StopReason): string {
  switch (reason.kind) {
    case 'abort':
      return `the call was aborted${reason.cause instanceof Error ? ` (${reason.cause.message})` : typeof reason.cause === 'string' ? ` (${reason.cause})` : ''}`;
    case 'timeout':
      return `the call's timeout of ${reason.timeoutMs} ms`;
    case 'closed':
      return 'the migrator was closed';
    case 'migration-timeout':
      return `${reason.migration.file} ran longer than migrationTimeout (${reason.timeoutMs} ms)`;
  }
}

function countApplied(applied: readonly MigrationResult[]): string {
  return `${applied.length} migration${applied.length === 1 ? '' : 's'} applied`;
}

/** The typed error for a call that stopped because it was asked to. */
function stopError(
  reason: StopReason,
  applied: readonly MigrationResult[],
  cause: unknown,
): OffloopError {
  const options = cause === undefined ? undefined : { cause };
  switch (reason.kind) {
    case 'abort':
      if (cause instanceof RunAbortedError) return cause;
      return new RunAbortedError(
        `The run was cancelled; ${countApplied(applied)} before it stopped.`,
        { applied: [...applied] },
        { cause: reason.cause },
      );
    case 'timeout':
      return new RunTimeoutError(
        `The run exceeded its timeout of ${reason.timeoutMs} ms and was cancelled; ${countApplied(applied)} before it stopped.`,
        { timeoutMs: reason.timeoutMs, applied: [...applied] },
        options,
      );
    case 'closed':
      return new MigratorClosedError(
        `The migrator was closed while the call ran; ${countApplied(applied)} before it stopped.`,
        { applied: [...applied] },
        options,
      );
    case 'migration-timeout':
      return migrationTimeoutError(reason, applied, '');
  }
}

/** MIGRATION_TIMEOUT for a migration whose thread had to be terminated (it never yielded). */
function migrationTimeoutError(
  reason: Extract<StopReason, { kind: 'migration-timeout' }>,
  applied: readonly MigrationResult[],
  what: string,
): MigrationTimeoutError {
  const { migration, timeoutMs } = reason;
  return new MigrationTimeoutError(
    `${migration.file}: migration ${migration.version} ran longer than migrationTimeout (${timeoutMs} ms) without yielding to its event loop (a loop in JavaScript?); ` +
      `its worker thread was terminated and its statements cancelled on the server. ${what}${describeKept(applied)}`,
    {
      version: migration.version,
      name: migration.name,
      file: migration.file,
      direction: migration.direction,
      transactional: migration.transactional,
      line: null,
      column: null,
      statement: null,
      statementCount: null,
      statementsRun: 0,
      sqlstate: null,
      detail: null,
      hint: null,
      applied: [...applied],
      invalidIndexes: [],
      timeoutMs,
    },
  );
}

/** `applied`, plus the in-flight migration when the server says its commit went through. */
function settleApplied(
  applied: readonly MigrationResult[],
  running: InFlight | null,
  outcome: CrashOutcome | null,
): MigrationResult[] {
  if (running === null || outcome !== 'committed') return [...applied];
  const { version, name, file, direction } = running;
  return [
    ...applied,
    {
      version,
      name,
      file,
      direction,
      durationMs: Math.round(performance.now() - running.startedAt),
    },
  ];
}

/** What became of the migration a dead thread was running, as a sentence (or nothing). */
function describeOutcome(running: InFlight | null, outcome: CrashOutcome | null): string {
  if (running === null) return '';
  switch (outcome) {
    case 'committed':
      return `${running.file} had committed before the thread died and stays applied. `;
    case 'rolled-back':
      return `${running.file} was rolled back. `;
    case 'partial':
      return `${running.file} is not transactional: what it ran before the thread died stays, and the next run refuses to start until it is resolved (\`offloop status\` says how). `;
    case null:
      return `Whether ${running.file} committed could not be checked (the server was not reachable): \`offloop status\` shows it. `;
  }
}

/** The engine's own list of what it applied, from a RUN_ABORTED error. */
function appliedOf(error: OffloopError): readonly MigrationResult[] | null {
  const value = (error.details as { applied?: unknown }).applied;
  return Array.isArray(value) ? (value as MigrationResult[]) : null;
}

/** What killed a thread, before the server has been asked what became of its work. */
type Crash = {
  readonly kind: 'out-of-memory' | 'closed' | 'failed';
  readonly reason: string;
  readonly logLine: string;
};

function describeCrash(error: unknown, closed: boolean): Crash {
  const message = error instanceof Error ? error.message : String(error);
  if ((error as { code?: unknown } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY')
    return { kind: 'out-of-memory', reason: message, logLine: `WORKER_OUT_OF_MEMORY: ${message}` };
  if (closed)
    return {
      kind: 'closed',
      reason: message,
      logLine: 'MIGRATOR_CLOSED: the migrator was closed while the migration ran',
    };
  const exited = /^worker exited with code: (-?\d+)/.exec(message);
  const reason =
    exited === null
      ? message
      : `the thread exited with code ${exited[1]} (did a migration call process.exit()?)`;
  return { kind: 'failed', reason, logLine: `WORKER_FAILED: ${reason}` };
}

/** The typed error for a thread that died by itself, saying what became of its migration. */
function crashError(
  crash: Crash,
  error: unknown,
  applied: readonly MigrationResult[],
  running: InFlight | null,
  loading: string | null,
  outcome: CrashOutcome | null,
): OffloopError {
  const what = describeOutcome(running, outcome);
  const where =
    running !== null
      ? ` while ${running.file} ran`
      : loading !== null
        ? ` while importing ${loading} (its top-level code), before anything ran`
        : '';
  const file = running?.file ?? loading;
  switch (crash.kind) {
    case 'out-of-memory':
      return new WorkerOutOfMemoryError(
        `The migration worker thread ran out of memory (workerResourceLimits)${where} and was stopped. ${what}${describeKept(applied)}`,
        { reason: crash.reason, applied: [...applied] },
        { cause: error },
      );
    case 'closed':
      return new MigratorClosedError(
        `The migrator was closed while the call ran. ${what}${describeKept(applied)}`,
        { applied: [...applied] },
        { cause: error },
      );
    case 'failed':
      return new WorkerFailedError(
        `The migration worker thread failed${where}: ${crash.reason}. ${what}${describeKept(applied)}`,
        { reason: crash.reason, applied: [...applied], file },
        { cause: error },
      );
  }
}

/**
 * Cancel what a dead thread left running on the server, from a fresh thread (the host never
 * loads a database driver). Best effort: failures come back in `errors`.
 */
async function cancelOnServer(
  config: ResolvedConfig,
  runTag: string,
  running: InFlight | null = null,
  error = '',
): Promise<CancelResponse> {
  const urls =
    config.lockUrl === null || config.lockUrl === config.url
      ? [config.url]
      : [config.url, config.lockUrl];
  const crash: CancelRequest['crash'] =
    running === null
      ? undefined
      : {
          url: config.url,
          schema: config.schema,
          table: config.table,
          appliedBy: config.appliedBy,
          migration: {
            version: running.version,
            name: running.name,
            file: running.file,
            direction: running.direction,
            transactional: running.transactional,
            checksum: running.checksum,
          },
          error,
          durationMs: Math.round(performance.now() - running.startedAt),
        };
  const request: CancelRequest = {
    urls,
    runTag,
    connectTimeoutMs: config.connectTimeout,
    waitMs: CANCEL_WAIT_MS,
    crash,
  };
  const cancelPool = new Piscina({ filename: CANCEL_FILE, minThreads: 0, maxThreads: 1 });
  try {
    return (await cancelPool.run(request)) as CancelResponse;
  } catch (error) {
    return {
      cancelled: [],
      terminated: [],
      errors: [error instanceof Error ? error.message : String(error)],
    };
  } finally {
    await cancelPool.destroy();
  }
}
