/** Reporting a migration whose statement waits for a lock, and who holds it up. */
import type { LockWait } from '../db/backends.ts';
import type { ApplyContext } from './context.ts';

/** When a statement waiting for a lock is first reported, and how often after that. */
const BLOCKED_FIRST_MS = 2_000;
const BLOCKED_EVERY_MS = 5_000;

/** Looking more often than the report: to see who holds a statement up before its `lock_timeout` ends the wait. */
export type LockWaitSampling = {
  /** When to look first, in ms. @default everyMs */
  readonly firstMs?: number;
  /** How often to look, in ms. */
  readonly everyMs: number;
  /** Called with each wait seen. */
  readonly seen: (wait: LockWait) => void;
};

/**
 * While a migration's backend is known, look every few seconds whether its statement waits for a
 * lock, and report who holds it up: a migration that seems to hang usually waits for a session
 * elsewhere. With `sampling`, look that often (a statement with a short `lock_timeout` stops
 * waiting before the first report, and then who held it up can no longer be seen), and report
 * as often as without. Returns the function that stops watching.
 */
export function watchLockWaits(
  context: ApplyContext,
  version: string,
  pid: number,
  sampling?: LockWaitSampling,
): () => void {
  const describe = context.describeLockWait;
  if (describe === undefined) return () => undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  let reported: number | null = null;
  const look = async () => {
    const wait = await describe(pid).catch(() => null);
    if (stopped) return;
    const now = performance.now();
    if (wait !== null) {
      sampling?.seen(wait);
      if (
        now - started >= BLOCKED_FIRST_MS - 1 &&
        (reported === null || now - reported >= BLOCKED_EVERY_MS - 1)
      ) {
        reported = now;
        await context.emit({ type: 'migration:blocked', version, pid, ...wait });
      }
    }
    // The watch must not keep the worker's loop alive on its own.
    if (!stopped)
      timer = setTimeout(() => void look(), sampling?.everyMs ?? BLOCKED_EVERY_MS).unref();
  };
  const firstMs =
    sampling === undefined ? BLOCKED_FIRST_MS : (sampling.firstMs ?? sampling.everyMs);
  timer = setTimeout(() => void look(), firstMs).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
