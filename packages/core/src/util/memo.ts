/**
 * A thread's memory of values already made, by key, with a bound: past `max` entries the oldest
 * is forgotten. For what a thread computes again and again with the same inputs (a fleet's
 * targets read the same URLs, files and sections).
 */
export class Memo<V> {
  readonly #values = new Map<string, V>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** The value kept for `key`, or `make()`'s, kept from now on. */
  get(key: string, make: () => V): V {
    const known = this.#values.get(key);
    if (known !== undefined) return known;
    const value = make();
    if (this.#values.size >= this.#max) this.#values.delete(this.#values.keys().next().value ?? '');
    this.#values.set(key, value);
    return value;
  }

  /** Forget `key` (a value that turned out wrong: the next `get` makes it again). */
  delete(key: string): void {
    this.#values.delete(key);
  }
}
