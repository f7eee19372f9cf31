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
  #immediate: NodeJS.Immediate | null = null;

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
    // A migration's own progress messages wait to be batched (user code may send thousands).
    // Before code of the user's runs (a module imported or started), everything goes out at once:
    // that code may block the thread's loop or kill it, and the host must still know what started
    // and what was applied. The rest goes out once the loop turns (after the SQL it waits for was
    // sent): a SQL migration's end, the next one's start and its backend travel as one message.
    if (event.type === 'migration:progress')
      this.#timer ??= setTimeout(() => this.#drain(), BATCH_MS);
    else if (runsUserCode(event)) this.#drain();
    else this.#immediate ??= setImmediate(() => this.#drain());
  }

  /** Send what is queued and wait until the host received every batch. */
  async flush(): Promise<void> {
    this.#drain();
    await this.#sync();
  }

  #drain(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) this.#send(batch);
  }
}

/** Whether the thread runs the user's code right after `event`: a module imported or started. */
function runsUserCode(event: ProgressEvent): boolean {
  return (
    event.type === 'migration:loading' ||
    (event.type === 'migration:started' && !event.file.endsWith('.sql'))
  );
}
