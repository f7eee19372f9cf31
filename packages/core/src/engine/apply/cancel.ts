/**
 * Stopping a migration from outside: the caller's abort, its `migrationTimeout`, or the lost lock
 * fire one signal, and the statement in flight is cancelled on the server.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { asError } from '../../util/as-error.ts';
import type { ApplyContext } from './context.ts';
import { watchLockWaits, type LockWaitSampling } from './lock-wait.ts';

/** Why a migration was stopped from outside: the caller's abort, its `migrationTimeout`, or the lost lock. */
export type CancelReason = 'aborted' | 'timeout' | 'lock-lost';

/** How a migration's body ended: its value, or the error and whether a stop caused it. */
export type BodyOutcome<T> = { value: T } | { error: unknown; reason: CancelReason | null };

/**
 * Run `body` with a signal that fires on the run's abort or on the migration timeout, cancelling
 * the statement in flight on the server when it does. Its lock waits are watched (`lock-wait.ts`),
 * with `sampling` when a short `lock_timeout` may end them before they are reported.
 */
export async function withCancellation<T>(
  context: ApplyContext,
  version: string,
  body: (signal: AbortSignal, setBackend: (pid: number) => void) => Promise<T>,
  sampling?: LockWaitSampling,
): Promise<BodyOutcome<T>> {
  const controller = new AbortController();
  let backend: number | null = null;
  let stopWatching = (): void => undefined;
  let cancelling: Promise<void> = Promise.resolve();
  let reason: CancelReason | null = null;
  const cancel = (why: CancelReason) => {
    if (reason !== null) return;
    reason = why;
    controller.abort(new Error(`The migration was stopped (${why}).`));
    if (backend !== null) cancelling = context.cancelBackend(backend).catch(() => undefined);
  };
  const onAbort = () => cancel('aborted');
  const onLockLost = () => cancel('lock-lost');
  context.signal?.addEventListener('abort', onAbort, { once: true });
  context.lockLost.addEventListener('abort', onLockLost, { once: true });
  const timer =
    context.config.migrationTimeout > 0
      ? setTimeout(() => cancel('timeout'), context.config.migrationTimeout)
      : null;
  try {
    if (context.lockLost.aborted) cancel('lock-lost');
    else if (context.signal?.aborted) cancel('aborted');
    return {
      value: await body(controller.signal, (pid) => {
        backend = pid;
        stopWatching();
        stopWatching = watchLockWaits(context, version, pid, sampling);
      }),
    };
  } catch (error) {
    return { error, reason };
  } finally {
    stopWatching();
    // Landed before the connection runs anything else (see cancelUntilSettled).
    await cancelling;
    context.signal?.removeEventListener('abort', onAbort);
    context.lockLost.removeEventListener('abort', onLockLost);
    if (timer !== null) clearTimeout(timer);
  }
}

/** How often a cancel is sent again while a batch it missed is still running. */
const CANCEL_RETRY_MS = 50;

/**
 * Once `signal` fires, cancel the batch in flight, again and again until it settles: PostgreSQL
 * drops a cancel that reaches the backend before it started reading the query (it was still
 * finishing the previous one, or the bytes were in flight), and the whole migration would then
 * run to its commit.
 */
export async function cancelUntilSettled<T>(
  running: Promise<T>,
  signal: AbortSignal,
  cancel: () => Promise<void>,
): Promise<T> {
  let settled = false;
  let inFlight: Promise<void> = Promise.resolve();
  // Not `poll` nor `retry`: nothing is checked and nothing fails; and `settled` must be read
  // before each cancel, not after it as `poll` reads `until`, or one more cancel would follow
  // the batch's end and land on whatever this connection runs next.
  const resend = async () => {
    while (!settled) {
      inFlight = cancel().catch(() => undefined);
      await inFlight;
      await sleep(CANCEL_RETRY_MS);
    }
  };
  const onAbort = () => void resend();
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await running;
  } finally {
    settled = true;
    signal.removeEventListener('abort', onAbort);
    // A cancel sent as the batch settled must land while the backend is idle (PostgreSQL drops
    // it there), not on whatever this connection runs next.
    await inFlight;
  }
}

/** `body`, or the stop's reason as soon as `signal` fires, whichever comes first. */
export async function untilStopped<T>(body: Promise<T>, signal: AbortSignal): Promise<T> {
  // The body may settle after the stop: its result is no longer anyone's.
  body.catch(() => undefined);
  if (signal.aborted) throw signal.reason;
  let onAbort = (): void => undefined;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(asError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([body, stopped]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
