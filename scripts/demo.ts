/**
 * `pnpm demo`: a node:http server keeps answering a steady stream of requests while offloop
 * migrates on a throwaway embedded PostgreSQL; then the server's latency during the migration
 * next to idle. The migrations are examples/migrations plus one CPU-heavy TypeScript data
 * migration (written into a temporary copy, so `./dev example` stays fast): on the server's own
 * loop it would stall every request for its duration; in offloop's worker thread it does not.
 *
 * A live progress line on a terminal; plain lines when piped.
 */
import { cp, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ProgressEvent } from '../packages/core/src/index.ts';
import { createMigrator } from '../packages/worker/src/index.ts';
import { startEmbeddedPostgres } from '../packages/embedded-postgres/src/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IDLE_MS = 2_000;
const INTERVAL_MS = 5;
const CPU_MS = 1_500;
const tty = process.stdout.isTTY;

// The client runs on another thread, so that its own timers measure the server, not itself.
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let stopped = false;
parentPort.on('message', () => { stopped = true; });
function next() {
  if (stopped) { agent.destroy(); parentPort.close(); return; }
  const sent = performance.now();
  http.get({ host: '127.0.0.1', port: workerData.port, path: '/', agent }, (response) => {
    response.resume();
    response.on('end', () => {
      parentPort.postMessage({ at: performance.timeOrigin + sent, ms: performance.now() - sent });
      setTimeout(next, workerData.interval);
    });
  }).on('error', () => setTimeout(next, workerData.interval));
}
next();
`;

type Sample = { at: number; ms: number };

const work = await mkdtemp(path.join(os.tmpdir(), 'offloop-demo-'));
await chmod(work, 0o755);
let server: Server | undefined;
let client: Worker | undefined;
try {
  line(`starting an embedded PostgreSQL in ${work} (throwaway)`);
  await using pg = await startEmbeddedPostgres({
    dataDir: path.join(work, 'pg'),
    persistent: false,
  });
  const dir = path.join(work, 'migrations');
  await cp(path.join(root, 'examples', 'migrations'), dir, { recursive: true });
  await writeFile(path.join(dir, '20260104090000_score_posts.ts'), heavyMigration(CPU_MS));

  server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok\n');
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  line(
    `PostgreSQL ${pg.version} on port ${String(pg.port)}; http server on http://127.0.0.1:${String(port)}; a request every ${String(INTERVAL_MS)} ms`,
  );

  const samples: Sample[] = [];
  client = new Worker(CLIENT, { eval: true, workerData: { port, interval: INTERVAL_MS } });
  client.on('message', (sample: Sample) => samples.push(sample));

  await status(`idle for ${String(IDLE_MS / 1000)} s`, IDLE_MS, samples);
  const idleEnd = Date.now();

  await using migrator = createMigrator({ url: pg.url, dir });
  let label = 'starting';
  let current = '';
  const ticker = setInterval(() => progress(label, samples, idleEnd), 100);
  const migrationStart = Date.now();
  const result = await migrator.up({
    onProgress: (event: ProgressEvent) => {
      if (event.type === 'migration:started')
        current = `[${String(event.index)}/${String(event.total)}] ${event.file}`;
      const next = describe(event, label, current);
      if (!tty && next !== label) line(next);
      label = next;
    },
  });
  const migrationEnd = Date.now();
  clearInterval(ticker);
  if (tty) process.stdout.write('\r\x1b[2K');
  line(
    `migrated: ${String(result.applied.length)} migrations in ${(result.durationMs / 1000).toFixed(1)} s, now at ${result.current ?? 'base'}`,
  );

  client.postMessage('stop');
  await new Promise((resolve) => client?.once('exit', resolve));
  client = undefined;

  const idle = samples.filter((sample) => sample.at < idleEnd);
  const during = samples.filter(
    (sample) => sample.at >= migrationStart && sample.at <= migrationEnd,
  );
  console.log('');
  console.log('server latency      | requests |    p50 |    p95 |    p99 |     max');
  console.log('------------------- | -------- | ------ | ------ | ------ | -------');
  console.log(row('idle', idle));
  console.log(row('during migration', during));
  console.log('');
  console.log(
    `The migration (including ${String(CPU_MS)} ms of CPU in a TypeScript data migration) ran in offloop's worker thread;`,
  );
  console.log(
    "on the server's own event loop every request during it would have waited for that CPU work.",
  );
} finally {
  if (client !== undefined) await client.terminate();
  server?.close();
  await rm(work, { recursive: true, force: true });
}

function heavyMigration(cpuMs: number): string {
  return `import { createHash } from 'node:crypto';
import type { MigrationContext } from '@offloop/core';

/** A CPU-heavy data migration: ${String(cpuMs)} ms of hashing, in steps that report progress. */
export async function up({ connection, sql, progress }: MigrationContext): Promise<void> {
  await connection.query(sql.unsafe\`alter table posts add column score text\`);
  let digest = 'offloop';
  const started = performance.now();
  for (let step = 1; step <= 10; step += 1) {
    while (performance.now() - started < (${String(cpuMs)} * step) / 10) digest = createHash('sha256').update(digest).digest('hex');
    progress('scoring', { done: step, total: 10 });
  }
  await connection.query(sql.unsafe\`update posts set score = \${digest.slice(0, 16)}\`);
}
`;
}

function describe(event: ProgressEvent, previous: string, current: string): string {
  switch (event.type) {
    case 'migration:started':
      return `applying ${current}`;
    case 'migration:progress':
      return `applying ${current}: ${event.message}${event.done !== null && event.total !== null ? ` ${String(event.done)}/${String(event.total)}` : ''}`;
    case 'migration:finished':
      return `applied ${current} in ${String(event.durationMs)} ms`;
    case 'plan:ready':
      return `${String(event.pending.length)} pending`;
    case 'lock:waiting':
      return 'waiting for the migration lock';
    case 'lock:acquired':
      return 'lock acquired';
    case 'lock:orphans':
      return "ended an earlier run's leftover backends";
    case 'migration:blocked':
      return `applying ${current}: waiting for a lock`;
    case 'migration:lock-retry':
      return `applying ${current}: retrying after a lock timeout`;
    case 'run:started':
    case 'run:finished':
    case 'lint:findings':
    case 'migration:backend':
    case 'migration:loading':
      return previous;
  }
}

async function status(label: string, ms: number, samples: readonly Sample[]): Promise<void> {
  const since = Date.now();
  const timer = setInterval(() => progress(label, samples, since), 100);
  await new Promise((resolve) => setTimeout(resolve, ms));
  clearInterval(timer);
  if (tty) process.stdout.write('\r\x1b[2K');
  const window = samples.filter((sample) => sample.at >= since);
  line(`${label}: ${String(window.length)} requests, p99 ${quantile(window, 0.99).toFixed(1)} ms`);
}

/** The live line: what runs, and the server's latency so far in this phase. */
function progress(label: string, samples: readonly Sample[], since: number): void {
  if (!tty) return;
  const window = samples.filter((sample) => sample.at >= since);
  const text = `${label} | ${String(window.length)} requests, p99 ${quantile(window, 0.99).toFixed(1)} ms, max ${quantile(window, 1).toFixed(1)} ms`;
  process.stdout.write(`\r\x1b[2K${text.slice(0, (process.stdout.columns || 120) - 1)}`);
}

function quantile(samples: readonly Sample[], q: number): number {
  if (samples.length === 0) return 0;
  const sorted = samples.map((sample) => sample.ms).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

function row(name: string, samples: readonly Sample[]): string {
  const ms = (q: number) => `${quantile(samples, q).toFixed(1)} ms`.padStart(6);
  return `${name.padEnd(19)} | ${String(samples.length).padStart(8)} | ${ms(0.5)} | ${ms(0.95)} | ${ms(0.99)} | ${ms(1).padStart(7)}`;
}

function line(text: string): void {
  console.log(tty ? `\x1b[2m[demo]\x1b[0m ${text}` : `[demo] ${text}`);
}
