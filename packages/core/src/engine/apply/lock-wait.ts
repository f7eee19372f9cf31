/** Reporting a migration whose statement waits for a lock, and who holds it up. */
import type { ApplyContext } from './context.ts';

/** When a statement waiting for a lock is first reported, and how often after that. */
const BLOCKED_FIRST_MS = 2_000;
const BLOCKED_EVERY_MS = 5_000;

/**
 * While a migration's backend is known, look every few seconds whether its statement waits for a
 * lock, and report who holds it up: a migration that seems to hang usually waits for a session
 * elsewhere. Returns the function that stops watching.
 */
export function watchLockWaits(context: ApplyContext, version: string, pid: number): () => void {
  const describe = context.describeLockWait;
  if (describe === undefined) return () => undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const look = async () => {
    const wait = await describe(pid).catch(() => null);
    if (stopped) return;
    if (wait !== null) await context.emit({ type: 'migration:blocked', version, pid, ...wait });
    // The watch must not keep the worker's loop alive on its own.
    if (!stopped) timer = setTimeout(() => void look(), BLOCKED_EVERY_MS).unref();
  };
  timer = setTimeout(() => void look(), BLOCKED_FIRST_MS).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
