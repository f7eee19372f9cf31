/**
 * What a worker thread's start is made of, and the test harness's per-file setup: a fresh thread
 * that loads nothing, slonik, zod, the migration worker, and `createTestDatabases().ready()` for a
 * template that exists. Run it with and without Node's compile cache to see what the cache gives:
 *
 *   ./dev node bench/startup.ts [--reps 6] [--url postgres://...]
 *   NODE_DISABLE_COMPILE_CACHE=1 ./dev node bench/startup.ts
 *
 * The first repetition of each row fills the cache; the medians leave it out. The harness rows
 * need a server (default `BENCH_DATABASE_URL`, else 127.0.0.1:5432).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { createTestDatabases } from '../packages/testing/src/index.ts';

const { values: flags } = parseArgs({
  options: { reps: { type: 'string' }, url: { type: 'string' } },
});
const reps = Number(flags.reps ?? 6);
const url =
  flags.url ?? process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const cached = process.env['NODE_DISABLE_COMPILE_CACHE'] === undefined;

// Resolved as @offloop/core resolves them (the bench package does not depend on them itself).
const resolve = (specifier: string) =>
  pathToFileURL(
    createRequire(new URL('../packages/core/package.json', import.meta.url)).resolve(specifier),
  ).href;
const rows: [string, string | null][] = [
  ['empty thread', null],
  ['thread importing slonik', resolve('slonik')],
  ['thread importing zod', resolve('zod')],
  [
    'thread importing the migration worker',
    new URL('../packages/worker/src/thread/worker-entry.ts', import.meta.url).href,
  ],
];

async function threadStart(entry: string | null): Promise<number> {
  const started = performance.now();
  const load = entry === null ? 'Promise.resolve()' : `import(${JSON.stringify(entry)})`;
  const code = `require('node:module').enableCompileCache(); ${load}.then(() => require('node:worker_threads').parentPort.postMessage(1))`;
  const worker = new Worker(code, { eval: true });
  await new Promise((done) => worker.once('message', done));
  const ms = performance.now() - started;
  await worker.terminate();
  return ms;
}

async function harnessReady(): Promise<number> {
  const started = performance.now();
  const harness = createTestDatabases({
    url,
    dir: new URL('../examples/migrations', import.meta.url).pathname,
    poolSize: 1,
  });
  await harness.ready();
  const ms = performance.now() - started;
  await harness.close();
  return ms;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
console.log(
  `compile cache: ${cached ? 'on' : 'off (NODE_DISABLE_COMPILE_CACHE)'}; medians of ${reps - 1} after one warm-up\n`,
);
console.log('| what | ms |\n| --- | --- |');
const measure = async (label: string, fn: () => Promise<number>) => {
  const times: number[] = [];
  for (let rep = 0; rep < reps; rep += 1) times.push(await fn());
  console.log(`| ${label} | ${Math.round(median(times.slice(1)))} |`);
};
for (const [label, entry] of rows) await measure(label, () => threadStart(entry));
await measure('test harness `ready()`, template exists', harnessReady);
