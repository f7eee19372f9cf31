/**
 * The fleet API: {@link createFleet}. One set of migration files, many targets (tenant schemas,
 * tenant databases), each migrated by an ordinary `up` with its own lock and ledger, many at once
 * on a pool of worker threads. The host only dispatches: every connection, file and query is in
 * the threads, so a server runs a fleet without its loop noticing.
 *
 * A fleet's `up`: gather the targets and scan each database once (`scanner.ts`), then run the
 * targets that have work, canaries first (`up-run.ts`, with the failure policy of `policy.ts`),
 * each one `up` on the threads (`target-run.ts`). This file is the public object and each call's
 * stop (the caller's signal, the timeout, the fleet's close).
 */
import {
  parseDuration,
  parseFleetConfig,
  type FleetEvent,
  type FleetInput,
  type FleetStatusResult,
  type FleetStop,
  type FleetTarget,
  type FleetUpResult,
  type LocatedTarget,
  type ResolvedFleetConfig,
  type TargetResult,
} from '@offloop/core';
import { WorkerThread } from '../worker-thread.ts';
import { FleetScanner } from './scanner.ts';
import { assertUpToDate, statusOf, targetStatus } from './status.ts';
import { TargetRunner } from './target-run.ts';
import { gatherTargets } from './targets.ts';
import { upScanned } from './up-run.ts';

/** Options of {@link createFleet}: a migrator's options, plus where the targets come from and how they run. */
export type FleetOptions = FleetInput;

/** What a fleet call takes besides its options. */
export type FleetCallOptions = {
  /** Receives the fleet's progress on the host's loop: the plan, each target's start and end. */
  readonly onProgress?: ((event: FleetEvent) => void) | undefined;
  /**
   * Cancels the call: nothing more starts, the targets in flight are cancelled (each rolls back
   * its current migration and releases its lock), and the call rejects with `FLEET_FAILED`,
   * `details.stopped` `"aborted"`.
   */
  readonly signal?: AbortSignal | undefined;
  /** A time limit for the whole call, in ms or as `"30m"`; then as a cancel, `stopped: "timeout"`. */
  readonly timeout?: number | string | undefined;
};

/** Migrates many targets with one set of files. Create one with {@link createFleet}. */
export type Fleet = AsyncDisposable & {
  /** The validated options. */
  readonly config: ResolvedFleetConfig;
  /**
   * Bring every target up to date. Resolves with each target's result when all are; rejects
   * with `FleetFailedError` (`FLEET_FAILED`), whose `details` hold every target's result, when a
   * target failed or the fleet stopped early. Run it again to finish: it skips what is done.
   */
  up(options?: FleetCallOptions): Promise<FleetUpResult>;
  /** Where each target stands, from one query per database. Read-only, no lock. */
  status(options?: FleetCallOptions): Promise<FleetStatusResult>;
  /** Resolve when every target is up to date; reject with `FleetBehindError` (`FLEET_BEHIND`) otherwise. */
  check(options?: FleetCallOptions): Promise<FleetStatusResult>;
  /**
   * Every target, in the order of `status()`, with where it stands and the URL that reaches it:
   * what a caller that dispatches the targets itself (a job queue) needs. Read-only, no lock.
   */
  targets(options?: FleetCallOptions): Promise<readonly LocatedTarget[]>;
  /**
   * Migrate one target through this fleet's threads (no scan, no canary): what a queue worker
   * does with a job. Never rejects: a failure is the result's `error`.
   */
  upTarget(target: FleetTarget, options?: FleetCallOptions): Promise<TargetResult>;
  /** Stop the threads. Calls still running are cancelled first. */
  close(): Promise<void>;
};

/**
 * Create a fleet. Options are validated at once (a `ConfigError` lists every problem); no thread
 * starts until the first call.
 *
 * @example
 * ```ts
 * import { createFleet } from '@offloop/worker';
 *
 * await using fleet = createFleet({ url: process.env.DATABASE_URL, schemas: 'tenant_*' });
 * const result = await fleet.up({ onProgress: (event) => log.info(event) });
 * ```
 */
export function createFleet(options: FleetOptions): Fleet {
  return new ThreadFleet(parseFleetConfig(options));
}

/** What stops a fleet call: one signal, and why it fired. */
type Stop = { readonly signal: AbortSignal; readonly reason: () => FleetStop };

class ThreadFleet implements Fleet {
  readonly config: ResolvedFleetConfig;
  readonly #threads: WorkerThread;
  readonly #scanner: FleetScanner;
  readonly #runner: TargetRunner;
  /** Stops what runs when the fleet is closed. */
  readonly #closing = new AbortController();
  readonly #running = new Set<Promise<unknown>>();

  constructor(config: ResolvedFleetConfig) {
    this.config = config;
    const tasksPerThread = Math.max(1, Math.ceil(config.concurrency / config.threads));
    this.#threads = new WorkerThread(config.base, { threads: config.threads, tasksPerThread });
    this.#runner = new TargetRunner(config.base, this.#threads, () => this.#closing.signal.aborted);
    this.#scanner = new FleetScanner(config, this.#threads);
  }

  up(options: FleetCallOptions = {}): Promise<FleetUpResult> {
    return this.#call(options, async (stop) =>
      upScanned(await this.#scanner.scanAll(), {
        config: this.config,
        runner: this.#runner,
        signal: stop.signal,
        reason: stop.reason,
        emit: listenerOf(options.onProgress),
      }),
    );
  }

  status(options: FleetCallOptions = {}): Promise<FleetStatusResult> {
    return this.#call(options, async () =>
      statusOf(await this.#scanner.scanAll(), this.#scanner.latest),
    );
  }

  async check(options: FleetCallOptions = {}): Promise<FleetStatusResult> {
    return assertUpToDate(await this.status(options));
  }

  targets(options: FleetCallOptions = {}): Promise<readonly LocatedTarget[]> {
    return this.#call(options, async () => {
      const scanned = await this.#scanner.scanAll();
      return scanned.map((each) => ({ ...targetStatus(each), url: each.target.url }));
    });
  }

  upTarget(target: FleetTarget, options: FleetCallOptions = {}): Promise<TargetResult> {
    return this.#call(options, async (stop) => {
      const [resolved] = await gatherTargets(
        { ...this.config, sources: [{ kind: 'list', targets: [target] }] },
        { schemasOf: () => Promise.resolve([]), rowsOf: () => Promise.resolve([]) },
      );
      if (resolved === undefined) throw new Error('no target');
      return this.#runner.run(resolved, { canary: false, signal: stop.signal, knownVersion: null });
    });
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled(this.#running);
    await this.#threads.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Run `fn` as one of the fleet's calls: stopped by {@link close}, which waits for it. */
  #call<T>(options: FleetCallOptions, fn: (stop: Stop) => Promise<T>): Promise<T> {
    const promise = this.#withStop(options, fn);
    this.#running.add(promise);
    void promise.then(
      () => this.#running.delete(promise),
      () => this.#running.delete(promise),
    );
    return promise;
  }

  /** Run `fn` with one signal for the caller's abort, the timeout and the fleet's close. */
  async #withStop<T>(options: FleetCallOptions, fn: (stop: Stop) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let reason: FleetStop = null;
    const stopWith = (why: Exclude<FleetStop, null>) => () => {
      reason ??= why;
      controller.abort();
    };
    const onAbort = stopWith('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.#closing.signal.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true || this.#closing.signal.aborted) onAbort();
    const timeoutMs = timeoutOf(options.timeout);
    const timer = timeoutMs > 0 ? setTimeout(stopWith('timeout'), timeoutMs) : undefined;
    try {
      return await fn({ signal: controller.signal, reason: () => reason });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      this.#closing.signal.removeEventListener('abort', onAbort);
    }
  }
}

function timeoutOf(timeout: number | string | undefined): number {
  if (timeout === undefined) return 0;
  const value = parseDuration(timeout);
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Events to the listener, each in its own microtask: a listener that throws stops nothing. */
function listenerOf(
  listener: ((event: FleetEvent) => void) | undefined,
): (event: FleetEvent) => void {
  if (listener === undefined) return () => undefined;
  return (event) => queueMicrotask(() => listener(event));
}
