/**
 * The worker side: Piscina runs this module's default export in a thread that owns its own
 * event loop, connection pools and module state. Migration files, slonik and the parser are
 * only ever loaded here.
 */
import { toEnvelope } from '@offloop/core';
import { execute } from '@offloop/core/engine';
import * as Comlink from 'comlink';
import { tagUrl } from './application-name.ts';
import { lowerThreadPriority } from './priority.ts';
import type { ProgressEvent } from '@offloop/core';
import type { HostChannel, TaskRequest, TaskResponse, WorkerControl } from './protocol.ts';

/** How long `migration:progress` events may wait to be sent together. */
const BATCH_MS = 20;

/**
 * Sends progress events to the host without awaiting a round trip for each (the engine used to
 * wait for every delivery), batching a migration's own `progress()` messages. The port keeps
 * order; `flush()` before the task returns makes sure every event arrived before the result.
 */
class EventBatcher {
  readonly #send: (batch: readonly ProgressEvent[]) => Promise<void>;
  #pending: ProgressEvent[] = [];
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(send: (batch: readonly ProgressEvent[]) => Promise<void>) {
    this.#send = send;
  }

  push(event: ProgressEvent): void {
    this.#pending.push(event);
    // Only a migration's own progress messages wait to be batched (user code may send thousands).
    // Everything else goes out at once, without waiting for the host's reply: the next thing the
    // thread does may block its loop (a CPU-bound migration) or kill it (a crash, out of memory),
    // and the host must still know what started and what was applied.
    if (event.type === 'migration:progress') this.#timer ??= setTimeout(() => void this.#drain(), BATCH_MS);
    else void this.#drain();
  }

  /** Send what is queued and wait until the host received every batch. */
  async flush(): Promise<void> {
    await this.#drain();
  }

  #drain(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) {
      // Best effort: a host that went away must not turn into an unhandled rejection here.
      const sent = this.#send(batch).catch(() => undefined);
      this.#inFlight = this.#inFlight.then(() => sent);
    }
    return this.#inFlight;
  }
}

/** Run one task. Never throws: failures come back as envelopes. */
export default async function runTask(request: TaskRequest): Promise<TaskResponse<unknown>> {
  const host = Comlink.wrap<HostChannel>(request.events);
  const controller = new AbortController();
  const control: WorkerControl = { abort: (reason) => controller.abort(new Error(reason)) };
  Comlink.expose(control, request.control);
  const events = new EventBatcher((batch) => host.progress(batch));
  const onProgress = (event: ProgressEvent) => events.push(event);
  try {
    await host.started();
    const { config } = request;
    lowerThreadPriority(config.workerNice);
    const tagged = {
      ...config,
      url: tagUrl(config.url, request.runTag),
      lockUrl: config.lockUrl === null ? null : tagUrl(config.lockUrl, request.runTag),
    };
    const value = await execute(tagged, request.command, { onProgress, signal: controller.signal });
    await events.flush();
    return { ok: true, value };
  } catch (error) {
    await events.flush().catch(() => undefined);
    return { ok: false, error: toEnvelope(error) };
  } finally {
    host[Comlink.releaseProxy]();
    request.events.close();
    request.control.close();
  }
}
