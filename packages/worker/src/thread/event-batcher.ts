/** Progress events from the worker thread to the host, batched. */
import type { ProgressEvent } from '@offloop/core';

/** How long `migration:progress` events may wait to be sent together. */
const BATCH_MS = 20;

/**
 * Sends progress events to the host without awaiting a round trip for each (the engine used to
 * wait for every delivery), batching a migration's own `progress()` messages. The port keeps
 * order; `flush()` before the task returns makes sure every event arrived before the result.
 */
export class EventBatcher {
  readonly #send: (batch: readonly ProgressEvent[]) => void;
  readonly #sync: () => Promise<void>;
  #pending: ProgressEvent[] = [];
  #timer: NodeJS.Timeout | null = null;

  /**
   * `send` posts a batch one-way; `sync` resolves once the host has handled everything posted
   * before it.
   */
  constructor(send: (batch: readonly ProgressEvent[]) => void, sync: () => Promise<void>) {
    this.#send = send;
    this.#sync = sync;
  }

  push(event: ProgressEvent): void {
    this.#pending.push(event);
    // Only a migration's own progress messages wait to be batched (user code may send thousands).
    // Everything else goes out at once, without waiting for the host's reply: the next thing the
    // thread does may block its loop (a CPU-bound migration) or kill it (a crash, out of memory),
    // and the host must still know what started and what was applied.
    if (event.type === 'migration:progress')
      this.#timer ??= setTimeout(() => this.#drain(), BATCH_MS);
    else this.#drain();
  }

  /** Send what is queued and wait until the host received every batch. */
  async flush(): Promise<void> {
    this.#drain();
    await this.#sync();
  }

  #drain(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) this.#send(batch);
  }
}
