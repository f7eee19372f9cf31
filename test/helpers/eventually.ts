import { poll } from '@offloop/core';

/**
 * Poll `check` every `everyMs` until it returns true, for at most `withinMs`. Resolves false
 * when time runs out, so that the test fails with its own message.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  withinMs: number,
  everyMs = 50,
): Promise<boolean> {
  const result = await poll(check, {
    until: (done) => done,
    intervalMs: everyMs,
    timeoutMs: withinMs,
  });
  return !result.timedOut;
}
