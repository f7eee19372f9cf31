/**
 * {@link WorkerThread}: the host's handle on the thread that runs its migrations, a Piscina pool
 * of one thread. One thread: calls on one migrator queue up; concurrency between runners is the
 * lock's job. A thread that died or was terminated is replaced on the next task. Between calls it
 * stays for `workerIdleTimeout`, so that the next call finds it started and connected.
 */
import type { CommandName, CommandResults, ResolvedConfig } from '@offloop/core';
import type { ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { TaskRequest, TaskResponse } from '../protocol.ts';
import { takeEarlyThread } from './early-thread.ts';
import { threadEntry } from './thread-entry.ts';

/** How a task ended: with the worker's response, or with its thread gone (Piscina's error). */
export type TaskOutcome<T> =
  | { readonly kind: 'settled'; readonly response: TaskResponse<T> }
  | { readonly kind: 'crashed'; readonly error: unknown };

/** How many threads, and tasks at once in each: a migrator's one and one, a fleet's more. */
export type ThreadSize = { readonly threads: number; readonly tasksPerThread: number };

/** The migration thread (a fleet's threads), started on the first task. */
export class WorkerThread {
  readonly #resourceLimits: ResourceLimits | null;
  readonly #idleTimeout: number;
  readonly #size: ThreadSize;
  #pool: Piscina | null = null;

  constructor(config: ResolvedConfig, size: ThreadSize = { threads: 1, tasksPerThread: 1 }) {
    const limits = config.workerResourceLimits;
    this.#resourceLimits = limits === null ? null : resourceLimits(limits);
    this.#idleTimeout = config.workerIdleTimeout;
    this.#size = size;
  }

  /**
   * Run a task other than an engine command (a fleet's scan, `thread/fleet-tasks.ts`): the
   * export `name` of the thread's entry. Rejects only when the thread died.
   */
  async runNamed<T>(name: 'scan' | 'targetsQuery', request: object): Promise<TaskResponse<T>> {
    return (await this.#getPool().run(request, { name })) as TaskResponse<T>;
  }

  /**
   * Start the thread (if none is running), wait until it has loaded the engine, and have it open
   * the connection the next call takes (`thread/worker-entry.ts`, `warm`). Rejects when the
   * thread could not start, or was stopped first; never for the database.
   */
  async warm(config: ResolvedConfig): Promise<void> {
    await this.#getPool().run({ config }, { name: 'warm' });
  }

  /**
   * Run one task. `signal` drops it from the queue, or terminates the thread running it (a new
   * thread serves the next task). Never rejects: a dead thread is an outcome.
   */
  run<N extends CommandName>(
    request: TaskRequest<N>,
    signal: AbortSignal,
    threadOf: () => number | null,
  ): Promise<TaskOutcome<CommandResults[N]>> {
    const transferList = [request.events, request.control];
    const pool = this.#getPool();
    // Piscina runs an abortable task alone on its thread: with several tasks per thread (a
    // fleet), the signal is ours. A task not started yet is stopped by its call when it starts;
    // a started one has its thread terminated (with the other tasks on it, which then report
    // their thread's end and are cleaned up on the server like any crash).
    if (this.#size.tasksPerThread > 1) {
      signal.addEventListener(
        'abort',
        () => {
          const id = threadOf();
          const thread = pool.threads.find((each) => each.threadId === id);
          void thread?.terminate();
        },
        { once: true },
      );
    }
    const options = this.#size.tasksPerThread > 1 ? { transferList } : { transferList, signal };
    return pool.run(request, options).then(
      // The worker's answer to this request (worker-entry.ts), typed by the command it ran.
      (response) => ({ kind: 'settled', response: response as TaskResponse<CommandResults[N]> }),
      (error: unknown) => ({ kind: 'crashed', error }),
    );
  }

  /**
   * Call `onExit` with the exit code if the thread running now ends without an error of its
   * own (`process.exit()` in a migration, or a terminate). Node emits the exit before Piscina's
   * rejection reaches the caller, so the code is known when the crash is handled. Returns the
   * way to stop listening.
   */
  onExit(onExit: (code: number) => void): () => void {
    // One thread at most: the one that runs the current task. With several (a fleet), which one
    // runs a task is Piscina's secret: a crash is then reported without the exit code.
    const thread = this.#size.threads === 1 ? this.#pool?.threads[0] : undefined;
    if (thread === undefined) return () => undefined;
    let failed = false;
    const onError = () => {
      failed = true;
    };
    const onCode = (code: number) => {
      if (!failed) onExit(code);
    };
    // A pair per task in flight on the thread: bounded by the tasks it may run at once (a fleet
    // on one thread runs its whole concurrency there), not a leak for Node to warn about.
    const bound = 10 + 2 * this.#size.tasksPerThread;
    if (thread.getMaxListeners() < bound) thread.setMaxListeners(bound);
    thread.once('error', onError);
    thread.once('exit', onCode);
    return () => {
      thread.off('error', onError);
      thread.off('exit', onCode);
    };
  }

  /** Stop the thread (the next task starts a new one). */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await pool?.destroy();
  }

  #getPool(): Piscina {
    const filename = threadEntry('worker-boot');
    const limits = this.#resourceLimits === null ? {} : { resourceLimits: this.#resourceLimits };
    // A thread the CLI started before it loaded the rest (see early-thread.ts).
    // It runs one task at a time: not for a fleet that runs several on its one thread.
    if (this.#size.threads === 1 && this.#size.tasksPerThread === 1)
      this.#pool ??= takeEarlyThread({ filename, ...limits });
    this.#pool ??= new Piscina({
      filename,
      minThreads: 0,
      maxThreads: this.#size.threads,
      // Warm between calls (with the connection it keeps, see core's kept-connections.ts); an
      // idle thread keeps no process alive (Piscina unrefs it).
      idleTimeout: this.#idleTimeout,
      concurrentTasksPerWorker: this.#size.tasksPerThread,
      ...limits,
    });
    return this.#pool;
  }
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
