/** {@link BufferedMigrationRun}: a call in flight, awaitable for its result and iterable for its progress events. */
import type { ProgressEvent } from '@offloop/core';
import type { MigrationRun } from './types.ts';

/** Buffers every event so that each iterator sees the whole run, from its first event. */
export class BufferedMigrationRun<T> implements MigrationRun<T> {
  readonly result: Promise<T>;
  readonly #events: ProgressEvent[] = [];
  #wake: (() => void)[] = [];
  #settled = false;
  #failure: { error: unknown } | null = null;

  constructor(result: Promise<T>) {
    this.result = result;
    result.then(
      () => this.#settle(null),
      (error: unknown) => this.#settle({ error }),
    );
  }

  /** Record an event (called by the migrator as events arrive from the worker). */
  push(event: ProgressEvent): void {
    this.#events.push(event);
    this.#notify();
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.result.then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.result.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.result.finally(onFinally);
  }

  readonly [Symbol.toStringTag] = 'MigrationRun';

  async *[Symbol.asyncIterator](): AsyncIterator<ProgressEvent> {
    // Whoever iterates gets the failure from the iterator; don't also report it as unhandled.
    this.result.catch(() => undefined);
    let index = 0;
    for (;;) {
      const event = this.#events[index];
      if (event !== undefined) {
        index += 1;
        yield event;
      } else if (this.#settled) {
        if (this.#failure !== null) throw this.#failure.error;
        return;
      } else {
        await new Promise<void>((resolve) => this.#wake.push(resolve));
      }
    }
  }

  #settle(failure: { error: unknown } | null): void {
    this.#settled = true;
    this.#failure = failure;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const resolve of wake) resolve();
  }
}
