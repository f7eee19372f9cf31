/**
 * The host API. The host validates options and owns a Piscina pool of one thread; everything
 * else (reading files, parsing, importing migration modules, all database work) happens in that
 * thread, so the host's event loop is never blocked by a migration.
 */
import {
  fromEnvelope,
  MigratorClosedError,
  parseConfig,
  RunAbortedError,
  upOptionsSchema,
  ConfigError,
  formatConfigIssues,
  toConfigIssues,
  WorkerFailedError,
  type CommandResult,
  type EngineCommand,
  type ProgressEvent,
  type ResolvedConfig,
  type StatusResult,
  type UpResult,
} from '@offloop/core';
import * as Comlink from 'comlink';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { HostChannel, TaskRequest, TaskResponse, WorkerControl } from './protocol.ts';
import { Run } from './run.ts';
import type { CallOptions, MigrationRun, MigratorOptions, UpOptions } from './types.ts';

/** Runs migrations in a worker thread. Create one with {@link createMigrator}. */
export type Migrator = AsyncDisposable & {
  /** The validated configuration. */
  readonly config: ResolvedConfig;
  /**
   * Apply pending migrations, each in its own transaction, under an advisory lock. Resolves with
   * what was applied; rejects with an `OffloopError` (see `docs/errors.md`).
   */
  up(options?: UpOptions): MigrationRun<UpResult>;
  /** Compare the migrations directory with the database. Read-only. */
  status(options?: CallOptions): MigrationRun<StatusResult>;
  /** Stop the worker thread. Afterwards nothing of the migrator is left running. */
  close(): Promise<void>;
};

// Inside the workspace the TypeScript source runs directly; the published package runs dist/*.js.
const WORKER_FILE = new URL(`./worker-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

/**
 * Create a migrator. Options are validated at once: an invalid option throws a `ConfigError`
 * that lists every problem. No thread starts until the first call.
 *
 * @example
 * ```ts
 * import { createMigrator } from '@offloop/worker';
 *
 * await using migrator = createMigrator({ url: process.env.DATABASE_URL, dir: './migrations' });
 * const { applied } = await migrator.up({ onProgress: (event) => log.info(event) });
 * ```
 */
export function createMigrator(options: MigratorOptions): Migrator {
  const config = parseConfig(options, 'migrator options');
  let pool: Piscina | null = null;
  let closed = false;
  const running = new Set<Promise<unknown>>();

  const getPool = (): Piscina => {
    // One thread: calls on one migrator queue up; concurrency between runners is the lock's job.
    pool ??= new Piscina({ filename: WORKER_FILE, minThreads: 0, maxThreads: 1, idleTimeout: 1_000, concurrentTasksPerWorker: 1 });
    return pool;
  };

  function call<C extends EngineCommand>(command: C, options: CallOptions): Run<CommandResult<C>> {
    const events = new MessageChannel();
    const control = new MessageChannel();
    const listener = options.onProgress;
    let run: Run<CommandResult<C>> | null = null;
    const host: HostChannel = {
      progress: (event: ProgressEvent) => {
        run?.push(event);
        if (listener !== undefined) queueMicrotask(() => listener(event));
      },
    };
    const result = (async (): Promise<CommandResult<C>> => {
      if (closed) throw new MigratorClosedError('This migrator was closed; create a new one.', {});
      if (options.signal?.aborted) throw new RunAbortedError('The run was cancelled before it started.', { applied: [] }, { cause: options.signal.reason });
      Comlink.expose(host, events.port1);
      const worker = Comlink.wrap<WorkerControl>(control.port1);
      const onAbort = () => void worker.abort(String(options.signal?.reason ?? 'aborted')).catch(() => undefined);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const request: TaskRequest = { command, config, events: events.port2, control: control.port2 };
        let response: TaskResponse<CommandResult<C>>;
        try {
          response = (await getPool().run(request, { transferList: [events.port2, control.port2] })) as TaskResponse<CommandResult<C>>;
        } catch (error) {
          if (closed) throw new MigratorClosedError('The migrator was closed while the call ran.', {}, { cause: error });
          throw new WorkerFailedError(`The migration worker thread failed: ${error instanceof Error ? error.message : String(error)}`, { reason: error instanceof Error ? error.message : String(error) }, { cause: error });
        }
        if (!response.ok) throw fromEnvelope(response.error);
        return response.value;
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
        worker[Comlink.releaseProxy]();
        events.port1.close();
        control.port1.close();
      }
    })();
    run = new Run(result);
    const tracked = result.catch(() => undefined);
    running.add(tracked);
    void tracked.finally(() => running.delete(tracked));
    return run;
  }

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const current = pool;
    pool = null;
    await current?.destroy();
    await Promise.all(running);
  };

  return {
    config,
    up(options = {}) {
      const { onProgress, signal, ...rest } = options;
      const parsed = upOptionsSchema.safeParse(rest);
      if (!parsed.success) {
        const issues = toConfigIssues(parsed.error);
        const run = new Run<UpResult>(Promise.reject(new ConfigError(formatConfigIssues(issues, 'up() options'), { issues })));
        return run;
      }
      return call({ name: 'up', to: parsed.data.to }, { onProgress, signal });
    },
    status(options = {}) {
      return call({ name: 'status' }, options);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

