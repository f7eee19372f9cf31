/**
 * {@link Readiness}: whether the schema is ready for a server's traffic, observable without
 * polling. A migrator keeps one for its `up()` calls (`migrator.readiness`).
 */
import { isOffloopError } from '@offloop/core';

/**
 * `pending`: no `up()` yet. `migrating`: an `up()` is running (or waiting for another replica's
 * lock). `ready`: the last `up()` succeeded. `failed`: the last `up()` failed; see `error`.
 */
export type ReadinessState = 'pending' | 'migrating' | 'ready' | 'failed';

/** Dispatched as `change` on a {@link Readiness} at every transition. */
export class ReadinessChangeEvent extends Event {
  readonly state: ReadinessState;
  readonly previous: ReadinessState;
  /** The failure, when `state` is `failed`. */
  readonly error: unknown;

  constructor(state: ReadinessState, previous: ReadinessState, error: unknown) {
    super('change');
    this.state = state;
    this.previous = previous;
    this.error = error;
  }
}

/**
 * A readiness state with a synchronous getter, `change` events, and an async iterator.
 *
 * @example
 * ```ts
 * const { readiness } = migrator;
 * readiness.addEventListener('change', (event) => log.info(`schema ${event.state}`));
 * void migrator.up().catch(() => undefined); // readiness reports the outcome
 * for await (const state of readiness) if (state === 'ready') break;
 * ```
 */
export class Readiness extends EventTarget {
  #state: ReadinessState = 'pending';
  #error: unknown = undefined;
  #generation = 0;

  /** The current state. */
  get state(): ReadinessState {
    return this.#state;
  }

  /** The failure of the last `up()`, while the state is `failed`; undefined otherwise. */
  get error(): unknown {
    return this.#error;
  }

  /** The `code` of the failure while `failed` (`MIGRATION_FAILED`, ...); null otherwise. */
  get errorCode(): string | null {
    if (this.#state !== 'failed') return null;
    return isOffloopError(this.#error) ? this.#error.code : 'INTERNAL_ERROR';
  }

  /**
   * Follow a run: `migrating` now, then `ready` or `failed` when it settles. When runs overlap,
   * the state follows the latest one. The migrator calls this for each `up()`.
   */
  track(run: PromiseLike<unknown>): void {
    const generation = ++this.#generation;
    this.#set('migrating', undefined);
    run.then(
      () => {
        if (generation === this.#generation) this.#set('ready', undefined);
      },
      (error: unknown) => {
        if (generation === this.#generation) this.#set('failed', error);
      },
    );
  }

  /**
   * Resolves once the state is `ready` (at once if it is). With `{ rejectOnFailure: true }` it
   * rejects with the error when the state becomes `failed`.
   */
  whenReady(
    options: { readonly signal?: AbortSignal; readonly rejectOnFailure?: boolean } = {},
  ): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    if (options.rejectOnFailure === true && this.#state === 'failed')
      return Promise.reject(asRunError(this.#error));
    return new Promise<void>((resolve, reject) => {
      const onChange = (event: Event) => {
        const { state, error } = event as ReadinessChangeEvent;
        if (state === 'ready') done(() => resolve());
        else if (state === 'failed' && options.rejectOnFailure === true)
          done(() => reject(asRunError(error)));
      };
      const onAbort = () => done(() => reject(options.signal?.reason as Error));
      const done = (settle: () => void) => {
        this.removeEventListener('change', onChange);
        options.signal?.removeEventListener('abort', onAbort);
        settle();
      };
      if (options.signal?.aborted === true) return onAbort();
      this.addEventListener('change', onChange);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The current state, then every later state as it changes, until `signal` aborts (or the
   * loop breaks). No state is missed between iterations: changes are queued.
   */
  async *changes(
    options: { readonly signal?: AbortSignal } = {},
  ): AsyncGenerator<ReadinessState, void, undefined> {
    const queue: ReadinessState[] = [this.#state];
    let wake: (() => void) | null = null;
    const onChange = (event: Event) => {
      queue.push((event as ReadinessChangeEvent).state);
      wake?.();
    };
    const onAbort = () => wake?.();
    this.addEventListener('change', onChange);
    options.signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const next = queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (options.signal?.aborted === true) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      this.removeEventListener('change', onChange);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Same as {@link Readiness.changes} without a signal. */
  [Symbol.asyncIterator](): AsyncGenerator<ReadinessState, void, undefined> {
    return this.changes();
  }

  #set(state: ReadinessState, error: unknown): void {
    const previous = this.#state;
    if (previous === state && state !== 'failed') return;
    this.#state = state;
    this.#error = error;
    this.dispatchEvent(new ReadinessChangeEvent(state, previous, error));
  }
}

/** A run's failure as an Error (offloop always rejects with one; anything else is wrapped). */
function asRunError(value: unknown): Error {
  return value instanceof Error ? value : new Error('The migration run failed', { cause: value });
}
