/**
 * The host side of one harness ({@link TestDatabases}): it starts the clone pool's worker thread,
 * makes the pool's calls over comlink and rebuilds their errors, and hands out the clones the
 * thread claimed ahead.
 */
import {
  fromEnvelope,
  HarnessClosedError,
  HarnessWorkerFailedError,
  moduleUrl,
} from '@offloop/core';
import * as Comlink from 'comlink';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type {
  AcquiredDatabase,
  HarnessChannel,
  PoolApi,
  PoolMethods,
  PoolOutcome,
  PoolStats,
  PoolWorkerData,
  PoolWorkerOptions,
  PruneResult,
  TemplateInfo,
} from './protocol.ts';
import type { TestDatabase, TestDatabases } from './handles.ts';

const WORKER_FILE = moduleUrl('./pool/pool-boot', import.meta.url);

/** The harness's thread, its comlink proxy, and the port on which the host listens. */
type Thread = {
  readonly worker: Worker;
  readonly api: Comlink.Remote<PoolApi>;
  readonly apiPort: MessagePort;
};

/**
 * The host side of one harness: its thread (started on first use), the calls in flight, and the
 * clones the thread claimed ahead for it. Methods are bound (arrow properties): a test may pass
 * `databases.acquire` around on its own.
 */
export class Harness implements TestDatabases {
  readonly #options: PoolWorkerOptions;
  #thread: Thread | null = null;
  #failure: Error | null = null;
  /** Rejected with {@link #failure}, to end the calls in flight when the thread fails. */
  readonly #failed = Promise.withResolvers<never>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #pending = 0;
  /** Clones the thread claimed ahead for this harness: acquire() hands them out with no round trip. */
  readonly #reserve: AcquiredDatabase[] = [];

  constructor(options: PoolWorkerOptions) {
    this.#options = options;
    this.#failed.promise.catch(() => undefined);
    // Start at once: the worker thread, the connections and the template get ready while the
    // test file loads. A failure surfaces from the first call.
    this.#call('template', (api) => api.template()).catch(() => undefined);
  }

  readonly ready = (): Promise<TemplateInfo> => this.#call('template', (api) => api.template());

  readonly template = (): Promise<TemplateInfo> => this.#call('template', (api) => api.template());

  readonly acquire = async (): Promise<TestDatabase> => {
    const reserved = this.#failure === null && !this.#closed ? this.#reserve.shift() : undefined;
    if (reserved !== undefined) {
      // Tell the thread (it tracks it for release and close, and claims the next one ahead).
      this.#call('taken', (api) => api.taken(reserved.name)).catch(() => undefined);
      return this.#toTestDatabase(reserved);
    }
    return this.#toTestDatabase(await this.#call('acquire', (api) => api.acquire()));
  };

  readonly stats = (): Promise<PoolStats> => this.#call('stats', (api) => api.stats());

  readonly prune = (): Promise<PruneResult> => this.#call('prune', (api) => api.prune());

  readonly close = (): Promise<void> => {
    this.#closing ??= (async () => {
      const thread = this.#thread;
      if (thread === null) {
        this.#closed = true;
        return;
      }
      try {
        if (this.#failure === null) await this.#call('close', (api) => api.close());
      } finally {
        this.#closed = true;
        thread.api[Comlink.releaseProxy]();
        await thread.worker.terminate();
      }
    })();
    return this.#closing;
  };

  readonly [Symbol.asyncDispose] = this.close;

  #toTestDatabase(acquired: AcquiredDatabase): TestDatabase {
    let released: Promise<void> | undefined;
    const release = (): Promise<void> => {
      released ??= this.#closed
        ? Promise.resolve()
        : this.#call('release', (api) => api.release(acquired.name)).then(() => undefined);
      return released;
    };
    return { ...acquired, release, [Symbol.asyncDispose]: release };
  }

  /** Make one call of the pool's (`send` makes it on the proxy) and unwrap its outcome. */
  async #call<T>(
    method: keyof PoolMethods,
    send: (api: PoolApi) => Promise<PoolOutcome<T>>,
  ): Promise<T> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closed && method !== 'close')
      throw new HarnessClosedError('This test harness was closed; create a new one.', {});
    const thread = this.#start();
    // Only calls in flight keep the process alive: a test file that forgets `close()` still exits.
    this.#pending += 1;
    thread.worker.ref();
    thread.apiPort.ref();
    try {
      const outcome = await Promise.race([send(thread.api), this.#failed.promise]);
      if (!outcome.ok) throw fromEnvelope(outcome.error);
      return outcome.value;
    } finally {
      this.#pending -= 1;
      if (this.#pending === 0) {
        thread.apiPort.unref();
        thread.worker.unref();
      }
    }
  }

  #fail(error: Error): void {
    this.#failure = error;
    this.#failed.reject(error);
  }

  /** The thread, started on the first call: the pool's calls on one channel, its notices on another. */
  #start(): Thread {
    if (this.#thread !== null) return this.#thread;
    const api = new MessageChannel();
    const host = new MessageChannel();
    const channel: HarnessChannel = { reserved: (database) => void this.#reserve.push(database) };
    Comlink.expose(channel, host.port1);
    // The listeners comlink adds hold the ports (and the process) open: only calls in flight may.
    host.port1.unref();
    const remote = Comlink.wrap<PoolApi>(api.port1);
    api.port1.unref();
    const data: PoolWorkerData = { options: this.#options, api: api.port2, host: host.port2 };
    const worker = new Worker(WORKER_FILE, {
      workerData: data,
      transferList: [api.port2, host.port2],
    });
    worker.on('error', (error: Error) => {
      this.#fail(
        new HarnessWorkerFailedError(
          `The test harness's worker thread failed: ${error.message}`,
          { reason: error.message },
          { cause: error },
        ),
      );
    });
    worker.on('exit', (code) => {
      if (!this.#closed)
        this.#fail(
          new HarnessWorkerFailedError(
            `The test harness's worker thread exited (code ${String(code)})`,
            { reason: `exit ${String(code)}` },
          ),
        );
    });
    worker.unref();
    this.#thread = { worker, api: remote, apiPort: api.port1 };
    return this.#thread;
  }
}
