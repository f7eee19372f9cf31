/**
 * ava's `test`, with at most a few tests of one file running at once.
 *
 * ava runs every test of a file concurrently. Here each test starts worker threads (each loads
 * slonik and the parser: ~0.5 s of CPU) or spawns processes, so twenty at once on a 2-core CI
 * machine starve each other until connections time out. A small per-file limit keeps the
 * suite as fast and makes it stable. `OFFLOOP_TEST_CONCURRENCY` overrides the limit.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';

const limit = Math.max(1, Number(process.env['OFFLOOP_TEST_CONCURRENCY'] ?? 2));
let running = 0;
const waiting: (() => void)[] = [];

async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await fn();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

type Implementation = (t: ExecutionContext) => Promise<void> | void;

function limited(title: string, implementation: Implementation): void {
  anyTest(title, (t) => withSlot(async () => implementation(t)));
}

/** Use like ava's default export; `test(title, fn)` waits for a slot, the rest is ava's own. */
const test: TestFn = Object.assign(limited, anyTest);
export default test;
