/**
 * Poll `check` every `everyMs` until it returns true, for at most `withinMs`. Resolves false
 * when time runs out, so that the test fails with its own message.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  withinMs: number,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return true;
}
