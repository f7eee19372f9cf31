/**
 * The load generator (a child of host-impact.ts, its own process): autocannon at a constant
 * rate against the server, recording each response's latency with its completion time, so that
 * the parent can ask for the latency percentiles of exactly the window a migration ran in.
 *
 * IPC: `{ mark: 'start' }`, `{ mark: 'stop' }`, then `{ report: true }` answers
 * `{ p50, p99, max, count, errors }` and ends the load.
 */
import autocannon from 'autocannon';

const [url, rate, connections] = process.argv.slice(2);
const samples: { at: number; ms: number }[] = [];
let errors = 0;
let windowStart = Infinity;
let windowEnd = Infinity;

const instance = autocannon(
  {
    url: url ?? '',
    connections: Number(connections ?? 10),
    overallRate: Number(rate ?? 500),
    duration: 3600,
  },
  () => undefined,
); // with a callback, autocannon returns the running instance

instance.on(
  'response',
  (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode !== 200) errors += 1;
    samples.push({ at: performance.now(), ms: responseTime });
  },
);
instance.on('reqError', () => {
  errors += 1;
});

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const round = (value: number) => Math.round(value * 100) / 100;

process.on('message', (message: { mark?: 'start' | 'stop'; report?: boolean }) => {
  if (message.mark === 'start') windowStart = performance.now();
  else if (message.mark === 'stop') windowEnd = performance.now();
  else if (message.report === true) {
    const inWindow = samples
      .filter((sample) => sample.at >= windowStart && sample.at <= windowEnd)
      .map((sample) => sample.ms)
      .sort((a, b) => a - b);
    process.send?.({
      p50: round(percentile(inWindow, 50)),
      p99: round(percentile(inWindow, 99)),
      max: round(inWindow.at(-1) ?? 0),
      count: inWindow.length,
      errors,
    });
    instance.stop();
    process.disconnect();
  }
});
process.send?.({ ready: true });
