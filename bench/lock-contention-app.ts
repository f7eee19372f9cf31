/**
 * The application of the lock-contention benchmark (a child of lock-contention.ts, its own
 * process, so that neither a migration tool on the parent's loop nor offloop's thread start
 * shows up in its latencies): simple primary-key reads on `accounts` at a fixed rate over a few
 * connections.
 *
 * The rate is open-loop: query `i` is due at `i / rate` seconds after the start, whatever
 * happened to the ones before it, and its latency runs from when it was due to its answer. A
 * query due while its connection is stuck behind a lock waits for it, as a server's requests
 * would, so a stall costs every query due during it (no coordinated omission).
 *
 * argv: url, rate (queries/s), connections, window (ms).
 * IPC: answers `{ ready: true }` once connected; on `'start'` answers `{ started: true }`, runs
 * for the window, waits for its queries to finish (at most DRAIN_MS) and answers
 * `{ samples: [dueAtMs, latencyMs | null, failed][] }`, then closes its connections and exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** How long to wait for queries still out when the window ends; a stall longer than this is reported as unfinished. */
const DRAIN_MS = 60_000;
/** A safety net on the server's side: no app query may outlive the benchmark. */
const STATEMENT_TIMEOUT_MS = 90_000;

const [url = '', rateArg = '200', connectionsArg = '8', windowArg = '12000'] =
  process.argv.slice(2);
const rate = Number(rateArg);
const connections = Number(connectionsArg);
const windowMs = Number(windowArg);

/** One query's fate: when it was due (ms from the start), its latency (null while out), whether it failed. */
type Sample = [dueAtMs: number, latencyMs: number | null, failed: boolean];

async function connect(): Promise<pg.Client[]> {
  const clients = Array.from(
    { length: connections },
    () =>
      new pg.Client({
        connectionString: url,
        application_name: 'lockbench-app',
        statement_timeout: STATEMENT_TIMEOUT_MS,
        connectionTimeoutMillis: 10_000,
      }),
  );
  // A connection ended by the parent's DROP DATABASE ... WITH (FORCE) must not crash this process.
  for (const client of clients) client.on('error', () => undefined);
  await Promise.all(clients.map((client) => client.connect()));
  // Warm each connection (plan cache, catalog) before the window opens.
  await Promise.all(
    clients.map((client) => client.query('select balance from accounts where id = $1', [1])),
  );
  return clients;
}

/** Send queries on schedule for the window; resolve when all are answered or DRAIN_MS has passed. */
async function run(clients: readonly pg.Client[], rows: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const pending: Promise<void>[] = [];
  const queues: Promise<void>[] = clients.map(() => Promise.resolve());
  const total = Math.round((rate * windowMs) / 1000);
  const start = performance.now();
  for (let i = 0; i < total; i += 1) {
    const dueAt = (i * 1000) / rate;
    const wait = start + dueAt - performance.now();
    if (wait > 1) await sleep(wait);
    const sample: Sample = [dueAt, null, false];
    samples.push(sample);
    const slot = i % clients.length;
    const client = clients[slot];
    if (client === undefined) throw new Error('no client');
    const id = 1 + Math.floor(Math.random() * rows);
    // Each connection sends its queries one after another (pg deprecates queueing in the client).
    const answered = (queues[slot] ?? Promise.resolve())
      .then(() => client.query('select balance from accounts where id = $1', [id]))
      .then(
        () => {
          sample[1] = performance.now() - start - dueAt;
        },
        () => {
          sample[1] = performance.now() - start - dueAt;
          sample[2] = true;
        },
      );
    queues[slot] = answered;
    pending.push(answered);
  }
  await Promise.race([Promise.all(pending), sleep(DRAIN_MS)]);
  return samples;
}

const clients = await connect();
// The parent dying must not leave this process behind.
process.on('disconnect', () => process.exit(0));
const count = await clients[0]?.query<{ n: string }>('select count(*) as n from accounts');
const rows = Number(count?.rows[0]?.n ?? 1);
process.once('message', (message: unknown) => {
  if (message !== 'start') return;
  process.send?.({ started: true });
  void run(clients, rows).then((samples) => {
    process.send?.({ samples }, () => {
      // Connections still stuck are ended by the parent's DROP DATABASE ... WITH (FORCE).
      void Promise.race([Promise.all(clients.map((client) => client.end())), sleep(2_000)]).then(
        () => process.exit(0),
      );
    });
  });
});
process.send?.({ ready: true });
