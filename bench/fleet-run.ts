/**
 * bench/fleet.ts's fleet contender, in a process of its own with the packed packages installed by
 * npm, as a deploy step or a server runs them (not the workspace's TypeScript sources, whose type
 * stripping costs every thread a WebAssembly compile). Reads a JSON file (the targets, the
 * directory, the settings), then in one process:
 *
 * 1. `createFleet(options).up()`, timed, with this process's event-loop delay recorded during it
 *    (`monitorEventLoopDelay`, 1 ms resolution);
 * 2. the no-op: `up()` again 5 times over the now up-to-date targets (warm);
 * 3. the same process idle for as long as the first `up()` took (2 to 10 s), its delay recorded.
 *
 * Prints `applied` once the first `up()` is done, then `{ ms, counts, warmNoops, loop, idle }` on
 * one line. The parent copies it into an npm
 * project with the packed packages and runs it there.
 */
import { readFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFleet, type FleetOptions } from '@offloop/worker';

const [input] = process.argv.slice(2);
if (input === undefined) throw new Error('usage: fleet-run.ts <options.json>');

type Histogram = ReturnType<typeof monitorEventLoopDelay>;
const loopOf = (histogram: Histogram) => ({
  p50: histogram.percentile(50) / 1e6,
  p99: histogram.percentile(99) / 1e6,
  max: histogram.max / 1e6,
});

const fleet = createFleet(JSON.parse(await readFile(input, 'utf8')) as FleetOptions);
try {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const started = performance.now();
  histogram.enable();
  const result = await fleet.up();
  histogram.disable();
  const ms = performance.now() - started;
  // The parent stops its idle sidecar process here.
  console.log('applied');
  const warmNoops: { ms: number; upToDate: number }[] = [];
  for (let i = 0; i < 5; i += 1) {
    const noopStarted = performance.now();
    const noop = await fleet.up();
    warmNoops.push({ ms: performance.now() - noopStarted, upToDate: noop.counts['up-to-date'] });
  }
  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await sleep(Math.min(10_000, Math.max(2_000, ms)));
  idle.disable();
  console.log(
    JSON.stringify({
      ms,
      counts: result.counts,
      warmNoops,
      loop: loopOf(histogram),
      idle: loopOf(idle),
    }),
  );
} finally {
  await fleet.close();
}
