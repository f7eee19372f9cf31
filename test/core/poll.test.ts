/** core's `poll`, `backoff` and `retry`, with no database: what is called, when it stops, what it returns. */
import test from 'ava';
import { backoff, poll, retry } from '../../packages/core/src/util/poll.ts';

test('a first check that is done returns its value at once, with no pause', async (t) => {
  const attempts: number[] = [];
  const result = await poll(
    (attempt) => {
      attempts.push(attempt);
      return 'ready';
    },
    { until: (value) => value === 'ready', intervalMs: 10_000, timeoutMs: 10_000 },
  );
  t.is(result.value, 'ready');
  t.false(result.timedOut);
  t.deepEqual(attempts, [0]);
});

test('checks again until the value is the one waited for, numbering the attempts', async (t) => {
  const attempts: number[] = [];
  const result = await poll(
    async (attempt) => {
      attempts.push(attempt);
      return Promise.resolve(attempt);
    },
    { until: (value) => value === 3, intervalMs: 1 },
  );
  t.deepEqual(result, { value: 3, timedOut: false, waitedMs: result.waitedMs });
  t.deepEqual(attempts, [0, 1, 2, 3]);
});

test('when time runs out it resolves with the last value and timedOut, never throws', async (t) => {
  let checks = 0;
  const result = await poll(() => (checks += 1), {
    until: () => false,
    intervalMs: 5,
    timeoutMs: 40,
  });
  t.true(result.timedOut);
  t.is(result.value, checks);
  // Not `checks >= 2`: a loaded machine may stall the first check past the 40 ms.
  t.true(checks >= 1);
  t.true(result.waitedMs >= 40);
});

test('a timeout of 0 checks once', async (t) => {
  let checks = 0;
  const result = await poll(() => (checks += 1), {
    until: () => false,
    intervalMs: 5,
    timeoutMs: 0,
  });
  t.true(result.timedOut);
  t.is(checks, 1);
});

test('a pause never runs past the timeout: the last check is when time runs out', async (t) => {
  const started = performance.now();
  const result = await poll(() => null, { until: () => false, intervalMs: 60_000, timeoutMs: 30 });
  t.true(result.timedOut);
  // One pause of 30 ms, not 60 s (generous bound for a loaded machine).
  t.true(performance.now() - started < 10_000);
});

test('onWait sees each value that is not done while time remains, before the pause', async (t) => {
  const seen: [number, boolean][] = [];
  const result = await poll((attempt) => attempt, {
    until: (value) => value === 2,
    intervalMs: 1,
    onWait: (value, waitedMs) => {
      seen.push([value, waitedMs >= 0]);
    },
  });
  t.is(result.value, 2);
  t.deepEqual(seen, [
    [0, true],
    [1, true],
  ]);
  let waits = 0;
  const timedOut = await poll(() => 0, {
    until: () => false,
    intervalMs: 1,
    timeoutMs: 0,
    onWait: () => {
      waits += 1;
    },
  });
  t.true(timedOut.timedOut);
  t.is(waits, 0, 'no onWait after the check that ran out of time');
});

test('an interval function is asked with the attempt that just failed', async (t) => {
  const asked: number[] = [];
  await poll((attempt) => attempt, {
    until: (value) => value === 3,
    intervalMs: (attempt) => {
      asked.push(attempt);
      return 1;
    },
  });
  t.deepEqual(asked, [0, 1, 2]);
});

test('a check that throws rejects the poll with its error', async (t) => {
  const failure = new Error('no server');
  await t.throwsAsync(
    poll(
      () => {
        throw failure;
      },
      { until: () => true, intervalMs: 1 },
    ),
    { is: failure },
  );
});

test('aborting the signal ends a pause with an AbortError', async (t) => {
  const controller = new AbortController();
  const polling = poll(() => false, {
    until: (done) => done,
    intervalMs: 60_000,
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(new Error('stop')), 10);
  await t.throwsAsync(polling, { name: 'AbortError' });
  const aborted = poll(() => false, {
    until: (done) => done,
    intervalMs: 60_000,
    signal: AbortSignal.abort(),
  });
  await t.throwsAsync(aborted, { name: 'AbortError' });
});

test('backoff doubles from firstMs up to maxMs, each pause jittered within [0.5, 1.5)', (t) => {
  const next = backoff({ firstMs: 25, maxMs: 1_000 });
  const bases = [25, 50, 100, 200, 400, 800, 1_000, 1_000, 1_000];
  for (let round = 0; round < 50; round += 1) {
    for (const [attempt, base] of bases.entries()) {
      const pause = next(attempt);
      t.true(pause >= base * 0.5 && pause < base * 1.5, `attempt ${attempt}: ${pause}`);
    }
  }
  t.true(Number.isFinite(next(10_000)));
});

test('retry returns the first result, with no call after it', async (t) => {
  const attempts: number[] = [];
  const result = await retry(
    (attempt) => {
      attempts.push(attempt);
      return Promise.resolve('done');
    },
    { attempts: 3 },
  );
  t.is(result, 'done');
  t.deepEqual(attempts, [0]);
});

test('retry calls again after an error, numbering the attempts, until one resolves', async (t) => {
  const attempts: number[] = [];
  const result = await retry(
    (attempt) => {
      attempts.push(attempt);
      return attempt < 2
        ? Promise.reject(new Error(`failed ${String(attempt)}`))
        : Promise.resolve(attempt);
    },
    { attempts: 3 },
  );
  t.is(result, 2);
  t.deepEqual(attempts, [0, 1, 2]);
});

test('retry throws the last error, unchanged, once the attempts are spent', async (t) => {
  const last = new Error('second');
  const errors = [new Error('first'), last];
  let calls = 0;
  const error = await t.throwsAsync(
    retry(() => Promise.reject(errors[calls++] ?? new Error('too many calls')), { attempts: 2 }),
  );
  t.is(error, last);
  t.is(calls, 2);
});

test('retry throws at once an error that retryOn refuses', async (t) => {
  const refused = new Error('not worth another call');
  let calls = 0;
  const error = await t.throwsAsync(
    retry(
      () => {
        calls += 1;
        return Promise.reject(calls === 1 ? new Error('passing') : refused);
      },
      { attempts: 5, retryOn: (reason) => reason instanceof Error && reason.message === 'passing' },
    ),
  );
  t.is(error, refused);
  t.is(calls, 2);
});

test('retry with one attempt calls once', async (t) => {
  let calls = 0;
  await t.throwsAsync(
    retry(
      () => {
        calls += 1;
        return Promise.reject(new Error('once'));
      },
      { attempts: 1 },
    ),
  );
  t.is(calls, 1);
});

test('retry pauses delayMs between calls, or what a function of the failed attempt returns', async (t) => {
  const asked: number[] = [];
  const started = performance.now();
  await t.throwsAsync(
    retry(() => Promise.reject(new Error('always')), {
      attempts: 3,
      delayMs: (attempt) => {
        asked.push(attempt);
        return 20;
      },
    }),
  );
  t.deepEqual(asked, [0, 1]);
  t.true(performance.now() - started >= 38);
});
