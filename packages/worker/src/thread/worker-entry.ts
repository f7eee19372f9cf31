/**
 * The worker side: Piscina runs this module's default export in a thread that owns its own
 * event loop, connection pools and module state. Migration files, slonik and the parser are
 * only ever loaded here.
 */
import { toEnvelope } from '@offloop/core';
import { execute } from '@offloop/core/engine';
import * as Comlink from 'comlink';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { tagUrl } from './application-name.ts';
import { lowerThreadPriority } from './priority.ts';
import type { ProgressEvent } from '@offloop/core';
import type { HostChannel, TaskRequest, TaskResponse, WorkerControl } from '../protocol.ts';

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
    if (event.type === 'migration:progress')
      this.#timer ??= setTimeout(() => void this.#drain(), BATCH_MS);
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

/**
 * The thread's `console` while a task runs: what a migration logs becomes `migration:progress`
 * events of the migration that logged it, one per line, instead of going to the host process's
 * stdout, where it would break `--json` output and bypass the host's own logging.
 */
class ConsoleCapture {
  readonly #previous = globalThis.console;
  readonly #onLine: (line: string) => void;
  #partial = '';

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
    const sink = new Writable({
      write: (chunk: Buffer | string, _encoding, done) => {
        const lines = (this.#partial + String(chunk)).split('\n');
        this.#partial = lines.pop() ?? '';
        for (const line of lines) this.#onLine(line);
        done();
      },
    });
    globalThis.console = new Console({ stdout: sink, stderr: sink });
  }

  /** Put the thread's console back, sending a last line that had no newline. */
  restore(): void {
    globalThis.console = this.#previous;
    if (this.#partial !== '') this.#onLine(this.#partial);
    this.#partial = '';
  }
}

/** Run one task. Never throws: failures come back as envelopes. */
export default async function runTask(request: TaskRequest): Promise<TaskResponse<unknown>> {
  const host = Comlink.wrap<HostChannel>(request.events);
  const controller = new AbortController();
  const control: WorkerControl = { abort: (reason) => controller.abort(new Error(reason)) };
  Comlink.expose(control, request.control);
  const events = new EventBatcher((batch) => host.progress(batch));
  // The migration being imported or run, for the lines it logs.
  let current = '';
  const onProgress = (event: ProgressEvent) => {
    if (event.type === 'migration:loading' || event.type === 'migration:started')
      current = event.version;
    events.push(event);
  };
  const capture = new ConsoleCapture((message) =>
    events.push({ type: 'migration:progress', version: current, message, done: null, total: null }),
  );
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
    capture.restore();
    await events.flush().catch(() => undefined);
    host[Comlink.releaseProxy]();
    request.events.close();
    request.control.close();
  }
}
