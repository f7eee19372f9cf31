/**
 * Waiting for something outside the process to change (a lock to free, a backend to exit, a
 * file to appear), and trying an action again when it fails for a passing reason: one loop each,
 * so that every wait checks, gives up and pauses the same way, and every retry too.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Options of {@link poll}. */
export type PollOptions<T> = {
  /** Whether a checked value is the one waited for. */
  readonly until: (value: T) => boolean;
  /**
   * Pause between two checks, in milliseconds, or a function of the attempt that just failed
   * (0 for the first check), for a backoff such as {@link backoff}. A pause never runs past the
   * timeout: the last check happens when time runs out.
   */
  readonly intervalMs: number | ((attempt: number) => number);
  /**
   * Give up after this many milliseconds, counted from the call, once a check is not done.
   * @default Infinity
   */
  readonly timeoutMs?: number | undefined;
  /** Aborting it ends a pause: `poll` then rejects with node's `AbortError`. */
  readonly signal?: AbortSignal | undefined;
  /** Called after each check that is not done, while time remains, before the pause. */
  readonly onWait?: ((value: T, waitedMs: number) => Promise<void> | void) | undefined;
};

/**
 * What {@link poll} found: the last value checked, whether time ran out before it was the one
 * waited for, and how long the wait took.
 */
export type Polled<T> = {
  readonly value: T;
  readonly timedOut: boolean;
  readonly waitedMs: number;
};

/**
 * Call `check` until `until` accepts its value, pausing `intervalMs` between calls, for at most
 * `timeoutMs`. The first check runs at once. Never throws for a timeout: the caller knows what
 * the wait was for, and turns `timedOut` into its own error (or accepts the last value).
 *
 * @example
 * ```ts
 * const gone = await poll(() => backendsOf(pid), { until: (rows) => rows.length === 0, intervalMs: 50, timeoutMs: 5_000 });
 * if (gone.timedOut) throw new LockTimeoutError(...);
 * ```
 */
export async function poll<T>(
  check: (attempt: number) => T | Promise<T>,
  options: PollOptions<T>,
): Promise<Polled<T>> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? Infinity;
  const interval = options.intervalMs;
  for (let attempt = 0; ; attempt += 1) {
    const value = await check(attempt);
    const waitedMs = performance.now() - started;
    if (options.until(value)) return { value, timedOut: false, waitedMs };
    if (waitedMs >= timeoutMs) return { value, timedOut: true, waitedMs };
    await options.onWait?.(value, waitedMs);
    const pause = Math.min(
      typeof interval === 'number' ? interval : interval(attempt),
      timeoutMs - (performance.now() - started),
    );
    await sleep(Math.max(1, pause), undefined, { signal: options.signal });
  }
}

/**
 * Exponential backoff with jitter, for {@link PollOptions.intervalMs}: `firstMs`, doubled after
 * each attempt up to `maxMs`, each pause scaled by a random factor in [0.5, 1.5) so that many
 * waiters do not check in step.
 */
export function backoff(options: {
  readonly firstMs: number;
  readonly maxMs: number;
}): (attempt: number) => number {
  return (attempt) =>
    Math.min(options.firstMs * 2 ** attempt, options.maxMs) * (0.5 + Math.random());
}

/** Options of {@link retry}. */
export type RetryOptions = {
  /** How many calls at most, the first one included. */
  readonly attempts: number;
  /**
   * Pause before the next call, in milliseconds, or a function of the attempt that just failed
   * (0 for the first call), for a backoff such as {@link backoff}.
   * @default 0 (the next call follows at once)
   */
  readonly delayMs?: number | ((attempt: number) => number) | undefined;
  /**
   * Whether an error is worth another call. Any other error is thrown at once.
   * @default every error
   */
  readonly retryOn?: ((error: unknown) => boolean) | undefined;
  /**
   * Called once an error is to be retried, with the pause about to follow, before it: to report
   * the retry.
   */
  readonly onRetry?:
    ((error: unknown, attempt: number, pauseMs: number) => Promise<void> | void) | undefined;
  /** Aborting it ends a pause: `retry` then rejects with node's `AbortError`. */
  readonly signal?: AbortSignal | undefined;
};

/**
 * Call `fn` until it resolves, at most `attempts` times, while its error passes `retryOn`. The
 * last error (or the first one `retryOn` refuses) is thrown as it is: the caller knows what was
 * tried, and turns it into its own error.
 *
 * @example
 * ```ts
 * await retry(() => pool.query(createDatabase), { attempts: 3, retryOn: (error) => findPgError(error)?.sqlstate === '55006' });
 * ```
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const delay = options.delayMs ?? 0;
  for (let attempt = 0; ; attempt += 1) {
    let pause: number;
    try {
      return await fn(attempt);
    } catch (error) {
      const again = attempt + 1 < options.attempts && (options.retryOn?.(error) ?? true);
      if (!again) throw error;
      pause = typeof delay === 'number' ? delay : delay(attempt);
      await options.onRetry?.(error, attempt, pause);
    }
    if (pause > 0) await sleep(pause, undefined, { signal: options.signal });
  }
}
