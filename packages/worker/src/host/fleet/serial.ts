/**
 * The turns of `serial` migrations across a fleet: a migration marked `serial:true` runs on one
 * target at a time, the others that reach it waiting in order (see the engine's `run/each.ts`).
 */

/** One turn per key (a migration's version), handed out in the order they were asked for. */
export class SerialTurns {
  readonly #waiting = new Map<string, (() => void)[]>();
  readonly #taken = new Set<string>();

  /**
   * Resolves true when `key`'s turn is the caller's (give it back with {@link release}), or false
   * when `signal` fired first: the caller stopped, and goes on without the turn.
   */
  acquire(key: string, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (!this.#taken.has(key)) {
      this.#taken.add(key);
      return Promise.resolve(true);
    }
    const { promise, resolve } = Promise.withResolvers<boolean>();
    const turn = () => {
      signal.removeEventListener('abort', withdraw);
      resolve(true);
    };
    const withdraw = () => {
      const queue = this.#waiting.get(key) ?? [];
      const at = queue.indexOf(turn);
      if (at !== -1) queue.splice(at, 1);
      resolve(false);
    };
    signal.addEventListener('abort', withdraw, { once: true });
    const queue = this.#waiting.get(key) ?? [];
    queue.push(turn);
    this.#waiting.set(key, queue);
    return promise;
  }

  /** Give `key`'s turn to the next in line, if any. */
  release(key: string): void {
    const next = this.#waiting.get(key)?.shift();
    if (next !== undefined) return next();
    this.#taken.delete(key);
    this.#waiting.delete(key);
  }
}
