/**
 * The lock-contention benchmark (issue 12). Run: `./dev node bench/lock-contention.ts`.
 *
 * An application (bench/lock-contention-app.ts, its own process) reads `accounts` by primary key
 * at a fixed rate over several connections. One second in, a report transaction reads `accounts`
 * and keeps its transaction open for 8 s (an ACCESS SHARE lock, which conflicts only with ACCESS
 * EXCLUSIVE). One second into the report, a migration runs `alter table accounts add column note
 * text`, which needs ACCESS EXCLUSIVE: while it waits, every app query on `accounts` queues
 * behind it. Each row of the table is one way of running that migration (or none); the rows
 * alternate within a round, every run on a fresh database, and the table shows medians over the
 * rounds: the app's latency p50/p99/max, its queries over 100 ms, the migration's own wall time
 * and outcome, and how long an ACCESS EXCLUSIVE request on `accounts` sat in the lock queue and
 * from when (sampled from `pg_locks`: the same measure for every tool).
 *
 * Flags: `--runs N` (rounds, default 3); `--url postgres://...` (the server: a database is
 * created per run; default TEST_DATABASE_URL, then postgres://postgres@127.0.0.1:5432/postgres);
 * `--only name,name` (rows by name); `--offloop 'name={"option": value}'` (repeatable: one more
 * row, offloop with these createMigrator options); `--rate`, `--connections`, `--rows`,
 * `--hold` (ms the report holds its lock); `--check` (exit 1 unless issue 12's criterion holds,
 * see {@link checkCriterion}) with `--first-lock-timeout <ms>` when the configuration does not
 * say it. Results also go to bench/results/lock-contention-<time>.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseConfig } from '@offloop/core';
import { createMigrator, isOffloopError, type MigratorOptions } from '@offloop/worker';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { median, rotate } from './stats.ts';

const here = import.meta.dirname;

/** Before the report starts: the app's quiet baseline. */
const LEAD_IN_MS = 1_000;
/** The migration starts this long after the report took its lock. */
const ALTER_AFTER_MS = 1_000;
/** After the report ends: the queue drains, a retrying migration gets its lock. */
const TAIL_MS = 3_000;
/** No migration may run longer than this; offloop's `timeout`, a race for node-pg-migrate. */
const MIGRATION_TIMEOUT_MS = 120_000;
/** The app process's own limit for queries still out when its window ends (lock-contention-app.ts). */
const APP_DRAIN_MS = 60_000;
const SLOW_MS = 100;
/** How often the lock queue is sampled (see {@link ExclusiveQueue}). */
const QUEUE_POLL_MS = 10;

/** What a row does during the report: nothing, offloop with these options, or node-pg-migrate. */
type Migration =
  | { readonly tool: 'none' }
  | { readonly tool: 'offloop'; readonly options: Omit<MigratorOptions, 'url' | 'dir'> }
  | { readonly tool: 'node-pg-migrate' };

type Row = { readonly name: string; readonly label: string; readonly migration: Migration };

/**
 * The rows. An offloop row is `createMigrator` options over `{ url, dir }`: add a configuration
 * here, or for one run with `--offloop 'name={...}'`. `offloop-defaults` and `none` are what
 * `--check` reads. offloop's default is a 100 ms lock_timeout with retries; `offloop-retries-off`
 * is the old default (no lock_timeout, so nothing to retry), `offloop-200ms` a fixed timeout that
 * is not retried.
 */
const ROWS: readonly Row[] = [
  { name: 'none', label: 'no migration', migration: { tool: 'none' } },
  {
    name: 'offloop-defaults',
    label: 'offloop `up`, defaults',
    migration: { tool: 'offloop', options: {} },
  },
  {
    name: 'offloop-retries-off',
    label: 'offloop, no lock_timeout, no retries (`statementLockTimeout: 0`, the old default)',
    migration: { tool: 'offloop', options: { statementLockTimeout: 0 } },
  },
  {
    name: 'offloop-200ms',
    label: 'offloop, `statementLockTimeout: 200ms`, no retry (`lockRetries: 0`)',
    migration: { tool: 'offloop', options: { statementLockTimeout: '200ms', lockRetries: 0 } },
  },
  {
    name: 'node-pg-migrate',
    label: 'node-pg-migrate `runner()`, defaults',
    migration: { tool: 'node-pg-migrate' },
  },
];

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    url: { type: 'string' },
    only: { type: 'string' },
    offloop: { type: 'string', multiple: true },
    rate: { type: 'string', default: '200' },
    connections: { type: 'string', default: '8' },
    rows: { type: 'string', default: '5000' },
    hold: { type: 'string', default: '8000' },
    check: { type: 'boolean', default: false },
    'first-lock-timeout': { type: 'string' },
  },
});

type Params = {
  readonly admin: string;
  readonly runs: number;
  readonly rate: number;
  readonly connections: number;
  readonly rows: number;
  readonly holdMs: number;
  readonly windowMs: number;
};

/** One app query: when it was due (ms from the start), its latency (null: never answered), whether it failed. */
type Sample = [dueAtMs: number, latencyMs: number | null, failed: boolean];

type AppStats = {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly slow: number;
  readonly count: number;
  readonly failed: number;
  readonly unfinished: number;
};

type MigrationOutcome = {
  /** `ok`, or the error's code (offloop's, or the SQLSTATE node-pg-migrate passes on). */
  readonly outcome: string;
  readonly sqlstate: string | null;
  readonly message: string | null;
  readonly wallMs: number;
  /** Ms from the app's start. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly columnAdded: boolean;
  /** offloop's progress events about lock waits and retries (`migration:blocked`, `*retry*`), as sent. */
  readonly lockEvents: readonly Record<string, unknown>[];
  /** offloop's progress events by type, with when they arrived (ms from the app's start). */
  readonly events: readonly { readonly type: string; readonly atMs: number }[];
};

type RunResult = {
  readonly row: string;
  readonly round: number;
  readonly app: AppStats;
  /** The worst latency of the queries due in each 500 ms of the window. */
  readonly maxPer500Ms: readonly number[];
  /** Ms from the app's start. */
  readonly report: { readonly heldAtMs: number; readonly releasedAtMs: number };
  readonly queue: ExclusiveQueue;
  readonly migration: MigrationOutcome | null;
};

/**
 * The ACCESS EXCLUSIVE requests on `accounts` that waited, as the server saw them: when one first
 * did (ms from the app's start) and for how long in all. The same for every tool, wherever its
 * ALTER spent the time before it was sent.
 */
type ExclusiveQueue = { readonly firstAtMs: number | null; readonly totalMs: number };

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Milliseconds as the issue's table writes them: `0.2 ms`, `86 ms`, `6,562 ms`. */
function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms).toLocaleString('en-US')} ms`;
}

/** Reject after `ms` unless `promise` settles first; a late rejection of `promise` is swallowed. */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => undefined);
  const timer = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`${what}: no answer within ${String(ms)} ms`);
      }),
    ]);
  } finally {
    timer.abort();
  }
}

/** Resolve `name` within the base URL's server: the same URL with another database. */
function databaseUrl(admin: string, name: string): string {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

function client(url: string, applicationName: string, queryTimeoutMs: number): pg.Client {
  const connection = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    query_timeout: queryTimeoutMs,
  });
  // Ended by DROP DATABASE ... WITH (FORCE) in a failed run: reported by the query, not thrown.
  connection.on('error', () => undefined);
  return connection;
}

let databaseCounter = 0;
/** What an interrupted run must clean up: databases it created, app processes it started. */
const databases = new Set<string>();
const apps = new Set<ChildProcess>();

/** On Ctrl-C or SIGTERM, end the app processes and drop the run's databases, then exit. */
function cleanUpOnSignal(admin: string): void {
  const onSignal = (signal: NodeJS.Signals) => {
    for (const app of apps) app.kill('SIGKILL');
    const adminClient = client(admin, 'lockbench-cleanup', 10_000);
    const drops = (async () => {
      await adminClient.connect();
      for (const name of databases) {
        await adminClient.query(
          `drop database if exists ${adminClient.escapeIdentifier(name)} with (force)`,
        );
      }
      await adminClient.end();
    })();
    void withTimeout(drops, 15_000, 'cleanup')
      .catch((error: unknown) => {
        console.error(`cleanup: ${error instanceof Error ? error.message : String(error)}`);
      })
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/** Run `fn` on a fresh database, dropped afterwards (its connections ended) whatever happens. */
async function withDatabase<T>(admin: string, fn: (url: string) => Promise<T>): Promise<T> {
  const name = `offloop_lockbench_${String(process.pid)}_${String(++databaseCounter)}`;
  const adminClient = client(admin, 'lockbench-admin', 60_000);
  await adminClient.connect();
  try {
    await adminClient.query(`create database ${adminClient.escapeIdentifier(name)}`);
    databases.add(name);
    try {
      return await fn(databaseUrl(admin, name));
    } finally {
      await adminClient.query(
        `drop database if exists ${adminClient.escapeIdentifier(name)} with (force)`,
      );
      databases.delete(name);
    }
  } finally {
    await adminClient.end();
  }
}

async function seed(url: string, rows: number): Promise<void> {
  const connection = client(url, 'lockbench-seed', 60_000);
  await connection.connect();
  try {
    await connection.query(`
      create table accounts (
        id bigint primary key,
        owner text not null,
        balance numeric(12, 2) not null default 0,
        updated_at timestamptz not null default now()
      )`);
    await connection.query(
      `insert into accounts (id, owner, balance)
       select g, 'owner ' || g, (g % 1000) * 1.5 from generate_series(1, $1::int) as g`,
      [rows],
    );
    await connection.query('analyze accounts');
  } finally {
    await connection.end();
  }
}

async function hasNoteColumn(url: string): Promise<boolean> {
  const connection = client(url, 'lockbench-check', 30_000);
  await connection.connect();
  try {
    const { rows } = await connection.query<{ found: boolean }>(
      `select exists (select 1 from information_schema.columns
        where table_name = 'accounts' and column_name = 'note') as found`,
    );
    return rows[0]?.found === true;
  } finally {
    await connection.end();
  }
}

/** The migration, in offloop's format and in node-pg-migrate's (its `-- Up Migration` marker). */
async function writeMigrations(work: string): Promise<{ offloop: string; npm: string }> {
  const dirs = { offloop: path.join(work, 'offloop'), npm: path.join(work, 'node-pg-migrate') };
  const file = '20260101000000_add_note.sql';
  await mkdir(dirs.offloop);
  await mkdir(dirs.npm);
  await writeFile(
    path.join(dirs.offloop, file),
    '-- migrate:up\nalter table accounts add column note text;\n\n' +
      '-- migrate:down\nalter table accounts drop column note;\n',
  );
  await writeFile(
    path.join(dirs.npm, file),
    '-- Up Migration\nalter table accounts add column note text;\n',
  );
  return dirs;
}

/** The next IPC message of `child` that has `key`; rejects if the child exits or after `ms`. */
function reply<T>(child: ChildProcess, key: string, ms: number): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve, reject) => {
      const onMessage = (value: unknown) => {
        if (typeof value !== 'object' || value === null || !(key in value)) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(value as T);
      };
      const onExit = (code: number | null) => {
        child.off('message', onMessage);
        reject(new Error(`the app process exited (${String(code)}) before sending ${key}`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    }),
    ms,
    `the app process's ${key}`,
  );
}

/** End the app process if it is still running: politely, then for good. */
async function stopApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const gone = await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]);
  if (!gone) child.kill('SIGKILL');
}

function appStats(samples: readonly Sample[]): AppStats {
  const latencies = samples.map(([, ms]) => ms ?? APP_DRAIN_MS).sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
    slow: latencies.filter((ms) => ms > SLOW_MS).length,
    count: samples.length,
    failed: samples.filter(([, , failed]) => failed).length,
    unfinished: samples.filter(([, ms]) => ms === null).length,
  };
}

function maxPer500Ms(samples: readonly Sample[], windowMs: number): number[] {
  const buckets = Array.from({ length: Math.ceil(windowMs / 500) }, () => 0);
  for (const [dueAt, ms] of samples) {
    const index = Math.min(buckets.length - 1, Math.floor(dueAt / 500));
    buckets[index] = Math.max(buckets[index] ?? 0, Math.round(ms ?? APP_DRAIN_MS));
  }
  return buckets;
}

/** The code a failed migration reports: offloop's stable code, else the driver's SQLSTATE. */
function failure(error: unknown): Pick<MigrationOutcome, 'outcome' | 'sqlstate' | 'message'> {
  const message = error instanceof Error ? error.message : String(error);
  if (isOffloopError(error)) {
    const details: unknown = error.details;
    const sqlstate =
      typeof details === 'object' && details !== null && 'sqlstate' in details
        ? String(details.sqlstate)
        : null;
    return { outcome: error.code, sqlstate, message };
  }
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
    ? { outcome: `SQLSTATE ${code}`, sqlstate: code, message }
    : { outcome: 'error', sqlstate: null, message };
}

/** offloop events worth keeping: lock waits and retries (whatever the retry event ends up being called). */
function isLockEvent(type: string): boolean {
  return type === 'migration:blocked' || type.includes('retry');
}

type Attempt = Pick<MigrationOutcome, 'outcome' | 'sqlstate' | 'message'>;

/** A migration ready to go: its tool loaded, its options checked (offloop's, by createMigrator). */
type PreparedMigration = {
  readonly run: () => Promise<Attempt>;
  /** offloop's lock events of the run, as sent. */
  readonly lockEvents: readonly Record<string, unknown>[];
  /** offloop's progress events of the run by type, with when they arrived (performance.now()). */
  readonly timeline: readonly { readonly type: string; readonly at: number }[];
  readonly close: () => Promise<void>;
};

function prepareOffloop(
  url: string,
  dir: string,
  options: Omit<MigratorOptions, 'url' | 'dir'>,
): PreparedMigration {
  // Its worker thread starts with the call, as in a server that migrates at start: warming it
  // up earlier would not help, the pool ends an idle thread after a second.
  const migrator = createMigrator({ ...options, url, dir });
  const lockEvents: Record<string, unknown>[] = [];
  const timeline: { type: string; at: number }[] = [];
  const run = async (): Promise<Attempt> => {
    try {
      const result = await migrator.up({
        timeout: MIGRATION_TIMEOUT_MS,
        onProgress: (event) => {
          timeline.push({ type: event.type, at: performance.now() });
          if (isLockEvent(event.type)) lockEvents.push({ ...event });
        },
      });
      return {
        outcome: result.applied.length === 1 ? 'ok' : `applied ${String(result.applied.length)}`,
        sqlstate: null,
        message: null,
      };
    } catch (error) {
      return failure(error);
    }
  };
  return { run, lockEvents, timeline, close: () => migrator.close() };
}

function prepareNodePgMigrate(url: string, dir: string): PreparedMigration {
  const silent = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    log: () => undefined,
  };
  const run = async (): Promise<Attempt> => {
    try {
      // It takes no signal: on a timeout, DROP DATABASE ... WITH (FORCE) ends its connection.
      const done = await withTimeout(
        runner({
          databaseUrl: url,
          dir,
          direction: 'up',
          migrationsTable: 'pgmigrations',
          count: Infinity,
          logger: silent,
          checkOrder: false,
        }),
        MIGRATION_TIMEOUT_MS,
        'node-pg-migrate',
      );
      return {
        outcome: done.length === 1 ? 'ok' : `applied ${String(done.length)}`,
        sqlstate: null,
        message: null,
      };
    } catch (error) {
      return failure(error);
    }
  };
  return { run, lockEvents: [], timeline: [], close: () => Promise.resolve() };
}

function prepare(
  migration: Migration,
  url: string,
  dirs: { offloop: string; npm: string },
): PreparedMigration | null {
  switch (migration.tool) {
    case 'none':
      return null;
    case 'offloop':
      return prepareOffloop(url, dirs.offloop, migration.options);
    case 'node-pg-migrate':
      return prepareNodePgMigrate(url, dirs.npm);
  }
}

/** Run a prepared migration; times are ms from the app's start, `t0`. */
async function migrate(
  prepared: PreparedMigration,
  t0: number,
): Promise<Omit<MigrationOutcome, 'columnAdded'>> {
  const started = performance.now();
  const result = await prepared.run();
  const ended = performance.now();
  return {
    ...result,
    wallMs: Math.round(ended - started),
    startedAtMs: Math.round(started - t0),
    endedAtMs: Math.round(ended - t0),
    lockEvents: prepared.lockEvents,
    events: prepared.timeline.map(({ type, at }) => ({ type, atMs: Math.round(at - t0) })),
  };
}

/**
 * The report: read `accounts` in a transaction (ACCESS SHARE, held until the transaction ends),
 * then sleep in it. Resolves once the lock is held, with the moment it will be released.
 */
async function startReport(
  connection: pg.Client,
  holdMs: number,
): Promise<{ readonly heldAt: number; readonly released: Promise<number> }> {
  await connection.query('begin');
  await connection.query('select count(*), sum(balance) from accounts');
  const heldAt = performance.now();
  const released = (async () => {
    await connection.query('select pg_sleep($1)', [holdMs / 1000]);
    await connection.query('commit');
    return performance.now();
  })();
  released.catch(() => undefined);
  return { heldAt, released };
}

/** Poll `pg_locks` until `signal` aborts; see {@link ExclusiveQueue}. */
async function watchExclusiveQueue(
  connection: pg.Client,
  t0: number,
  signal: AbortSignal,
): Promise<ExclusiveQueue> {
  let firstAt: number | null = null;
  let totalMs = 0;
  let previous: number | null = null;
  while (!signal.aborted) {
    const at = performance.now();
    const { rows } = await connection.query<{ waiting: boolean }>(
      `select exists (select 1 from pg_locks where locktype = 'relation'
        and relation = 'accounts'::regclass and mode = 'AccessExclusiveLock' and not granted) as waiting`,
    );
    if (rows[0]?.waiting === true) {
      firstAt ??= at;
      if (previous !== null) totalMs += at - previous;
      previous = at;
    } else {
      previous = null;
    }
    await sleep(QUEUE_POLL_MS);
  }
  return {
    firstAtMs: firstAt === null ? null : Math.round(firstAt - t0),
    totalMs: Math.round(totalMs),
  };
}

async function runRow(
  row: Row,
  round: number,
  params: Params,
  dirs: { offloop: string; npm: string },
): Promise<RunResult> {
  return withDatabase(params.admin, async (url) => {
    await seed(url, params.rows);
    const app = fork(
      path.join(here, 'lock-contention-app.ts'),
      [url, String(params.rate), String(params.connections), String(params.windowMs)],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    apps.add(app);
    const report = client(url, 'lockbench-report', params.holdMs + 30_000);
    const watcher = client(url, 'lockbench-watcher', 10_000);
    const stopWatching = new AbortController();
    let prepared: PreparedMigration | null = null;
    try {
      prepared = prepare(row.migration, url, dirs);
      await reply(app, 'ready', 30_000);
      await report.connect();
      await watcher.connect();
      const started = reply(app, 'started', 10_000);
      const finished = reply<{ samples: Sample[] }>(
        app,
        'samples',
        params.windowMs + APP_DRAIN_MS + 15_000,
      );
      finished.catch(() => undefined);
      app.send('start');
      await started;
      const t0 = performance.now();
      const queue = watchExclusiveQueue(watcher, t0, stopWatching.signal);
      queue.catch(() => undefined);
      await sleep(LEAD_IN_MS);
      const { heldAt, released } = await startReport(report, params.holdMs);
      await sleep(Math.max(0, heldAt + ALTER_AFTER_MS - performance.now()));
      const migration = prepared === null ? null : migrate(prepared, t0);
      const releasedAt = await withTimeout(released, params.holdMs + 30_000, 'the report');
      const outcome = await migration;
      stopWatching.abort();
      const exclusiveQueue = await withTimeout(queue, 15_000, 'the lock watcher');
      const { samples } = await finished;
      return {
        row: row.name,
        round,
        app: appStats(samples),
        maxPer500Ms: maxPer500Ms(samples, params.windowMs),
        report: { heldAtMs: Math.round(heldAt - t0), releasedAtMs: Math.round(releasedAt - t0) },
        queue: exclusiveQueue,
        migration: outcome === null ? null : { ...outcome, columnAdded: await hasNoteColumn(url) },
      };
    } finally {
      stopWatching.abort();
      await prepared?.close();
      await stopApp(app);
      apps.delete(app);
      await report.end().catch(() => undefined);
      await watcher.end().catch(() => undefined);
    }
  });
}

type Summary = {
  readonly row: Row;
  readonly app: AppStats;
  /** Medians: ms an ACCESS EXCLUSIVE request waited in all; ms into the report the first one did (null: none). */
  readonly queuedMs: number;
  readonly queuedFromMs: number | null;
  readonly wallMs: number | null;
  readonly outcome: string;
};

function summarize(row: Row, runs: readonly RunResult[]): Summary {
  const of = runs.filter((run) => run.row === row.name);
  const pick = (stat: keyof AppStats) => median(of.map((run) => run.app[stat]));
  const migrations = of.flatMap((run) => (run.migration === null ? [] : [run.migration]));
  const outcomes = new Map<string, number>();
  for (const migration of migrations) {
    const text =
      migration.outcome === 'ok' && migration.columnAdded
        ? 'ok'
        : `${migration.outcome === 'ok' ? 'ok' : `failed \`${migration.outcome}\``}` +
          `${migration.columnAdded ? '' : ', column not added'}`;
    outcomes.set(text, (outcomes.get(text) ?? 0) + 1);
  }
  const outcome =
    outcomes.size <= 1
      ? ([...outcomes.keys()][0] ?? '-')
      : [...outcomes].map(([text, count]) => `${text} (x${String(count)})`).join('; ');
  const queued = of.flatMap((run) =>
    run.queue.firstAtMs === null ? [] : [run.queue.firstAtMs - run.report.heldAtMs],
  );
  return {
    row,
    queuedMs: median(of.map((run) => run.queue.totalMs)),
    queuedFromMs: queued.length === 0 ? null : median(queued),
    app: {
      p50: pick('p50'),
      p99: pick('p99'),
      max: pick('max'),
      slow: pick('slow'),
      count: pick('count'),
      failed: pick('failed'),
      unfinished: pick('unfinished'),
    },
    wallMs: migrations.length === 0 ? null : median(migrations.map((m) => m.wallMs)),
    outcome,
  };
}

function printTable(summaries: readonly Summary[], params: Params): void {
  const total = Math.round((params.rate * params.windowMs) / 1000).toLocaleString('en-US');
  console.log(
    `| during the migration | app p50 | app p99 | app max | queries over ${String(SLOW_MS)} ms (of ${total}) | migration | ACCESS EXCLUSIVE queued |`,
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const { row, app, wallMs, outcome, queuedMs, queuedFromMs } of summaries) {
    const migration = wallMs === null ? '-' : `${(wallMs / 1000).toFixed(1)} s, ${outcome}`;
    const queued =
      queuedFromMs === null
        ? '-'
        : `${(queuedMs / 1000).toFixed(1)} s, from ${(queuedFromMs / 1000).toFixed(1)} s into the report`;
    const failed = app.failed > 0 ? ` (${String(app.failed)} failed)` : '';
    console.log(
      `| ${row.label} | ${formatMs(app.p50)} | ${formatMs(app.p99)} | ${formatMs(app.max)} | ${Math.round(app.slow).toLocaleString('en-US')}${failed} | ${migration} | ${queued} |`,
    );
  }
}

/** A numeric field of a retry event that names its lock_timeout, in ms. */
function timeoutOf(event: Record<string, unknown>): number | null {
  for (const key of ['lockTimeoutMs', 'timeoutMs', 'lockTimeout', 'timeout']) {
    const value = event[key];
    if (typeof value === 'number' && value > 0) return value;
  }
  return null;
}

/**
 * The lock_timeout of a migration's first attempt under offloop's defaults: `--first-lock-timeout`
 * if given; else the `statementLockTimeout` the offloop-defaults row resolves to (offloop's
 * default), when not 0; else what the first retry event of that row's runs reported.
 */
function firstLockTimeout(
  params: Params,
  rows: readonly Row[],
  runs: readonly RunResult[],
): { readonly ms: number; readonly source: string } | null {
  const flag = flags['first-lock-timeout'];
  if (flag !== undefined) return { ms: Number(flag.replace(/ms$/, '')), source: 'the flag' };
  // The configuration the offloop-defaults row ran with: offloop's defaults, unless the row says otherwise.
  const row = rows.find((candidate) => candidate.name === 'offloop-defaults');
  const options = row?.migration.tool === 'offloop' ? row.migration.options : {};
  const config = parseConfig({ ...options, url: params.admin });
  if (config.statementLockTimeout > 0) {
    return { ms: config.statementLockTimeout, source: "the row's statementLockTimeout" };
  }
  for (const run of runs) {
    if (run.row !== 'offloop-defaults') continue;
    for (const event of run.migration?.lockEvents ?? []) {
      if (typeof event['type'] !== 'string' || !event['type'].includes('retry')) continue;
      const ms = timeoutOf(event);
      if (ms !== null) return { ms, source: `the first ${event['type']} event` };
    }
  }
  return null;
}

/**
 * Issue 12's "Done when": with offloop's defaults, the app's worst query (median of the rounds'
 * maxima) is within 2 x the first lock_timeout plus the idle max (the `none` row's), and every
 * defaults run met the report's lock (its ALTER queued behind it) and succeeded (column added);
 * node-pg-migrate's max shows the stall, at least half of the time the report still holds its
 * lock after the ALTER starts. Returns the problems.
 */
function checkCriterion(
  summaries: readonly Summary[],
  runs: readonly RunResult[],
  params: Params,
): string[] {
  const find = (name: string) => summaries.find((summary) => summary.row.name === name);
  const idle = find('none');
  const defaults = find('offloop-defaults');
  const npm = find('node-pg-migrate');
  if (idle === undefined || defaults === undefined || npm === undefined) {
    return ['--check needs the rows none, offloop-defaults and node-pg-migrate (see --only)'];
  }
  const problems: string[] = [];
  const first = firstLockTimeout(
    params,
    summaries.map((summary) => summary.row),
    runs,
  );
  if (first === null || !Number.isFinite(first.ms)) {
    problems.push(
      "offloop's defaults set no lock_timeout and no run reported a retry's timeout: " +
        'pass --first-lock-timeout <ms>',
    );
  } else {
    const bound = 2 * first.ms + idle.app.max;
    const verdict = defaults.app.max <= bound ? 'within' : 'over';
    console.error(
      `check: offloop-defaults max ${formatMs(defaults.app.max)} is ${verdict} 2 x ${formatMs(first.ms)} ` +
        `(first lock_timeout, from ${first.source}) + idle max ${formatMs(idle.app.max)} = ${formatMs(bound)}`,
    );
    if (verdict === 'over') {
      problems.push(
        `offloop's defaults: the app's worst query took ${formatMs(defaults.app.max)}, over ` +
          `2 x ${formatMs(first.ms)} + ${formatMs(idle.app.max)} = ${formatMs(bound)}`,
      );
    }
  }
  for (const run of runs) {
    if (run.row !== 'offloop-defaults') continue;
    // A migration that got its lock without waiting proves nothing about waiting safely.
    const met = run.queue.firstAtMs !== null && run.queue.firstAtMs < run.report.releasedAtMs;
    if (!met) {
      problems.push(
        `offloop's defaults, round ${String(run.round + 1)}: its ACCESS EXCLUSIVE request never ` +
          'waited behind the report (sent after the report ended?): the round tells nothing',
      );
    }
    const migration = run.migration;
    if (migration?.outcome !== 'ok' || !migration.columnAdded) {
      problems.push(
        `offloop's defaults, round ${String(run.round + 1)}: the migration did not succeed ` +
          `(${migration?.outcome ?? 'not run'}${migration?.columnAdded === true ? '' : ', column not added'})`,
      );
    }
  }
  const stall = (params.holdMs - ALTER_AFTER_MS) / 2;
  if (!(npm.app.max >= stall)) {
    problems.push(
      `node-pg-migrate's row shows no stall (max ${formatMs(npm.app.max)}, expected over ` +
        `${formatMs(stall)}): the scenario did not make the ALTER wait`,
    );
  }
  return problems;
}

/** When offloop sent the migration (its `migration:started` event), for the per-run line. */
function alterSent(migration: MigrationOutcome): string {
  const sent = migration.events.find((event) => event.type === 'migration:started');
  return sent === undefined ? '' : `, sent at ${String(sent.atMs)}`;
}

function selectedRows(): Row[] {
  const extra = (flags.offloop ?? []).map((spec): Row => {
    const equals = spec.indexOf('=');
    if (equals <= 0) throw new Error(`--offloop ${spec}: expected name={"option": value}`);
    const name = spec.slice(0, equals);
    const options = JSON.parse(spec.slice(equals + 1)) as Omit<MigratorOptions, 'url' | 'dir'>;
    return {
      name,
      label: `offloop, \`${JSON.stringify(options)}\``,
      migration: { tool: 'offloop', options },
    };
  });
  const all = [...ROWS, ...extra];
  const only = flags.only?.split(',').map((name) => name.trim());
  if (only === undefined) return all;
  const unknown = only.filter((name) => !all.some((row) => row.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `--only: no row ${unknown.join(', ')} (rows: ${all.map((r) => r.name).join(', ')})`,
    );
  }
  return all.filter((row) => only.includes(row.name));
}

async function main(): Promise<void> {
  const holdMs = Number(flags.hold);
  const params: Params = {
    admin:
      flags.url ??
      process.env['TEST_DATABASE_URL'] ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    runs: Number(flags.runs),
    rate: Number(flags.rate),
    connections: Number(flags.connections),
    rows: Number(flags.rows),
    holdMs,
    windowMs: LEAD_IN_MS + holdMs + TAIL_MS,
  };
  const rows = selectedRows();
  // A mistyped option fails here, with every problem named, not minutes into the run.
  for (const row of rows) {
    if (row.migration.tool === 'offloop') {
      parseConfig({ ...row.migration.options, url: params.admin }, `options of row ${row.name}`);
    }
  }
  cleanUpOnSignal(params.admin);
  const work = await mkdtemp(path.join(os.tmpdir(), 'offloop-lockbench-'));
  try {
    const dirs = await writeMigrations(work);
    const version = client(params.admin, 'lockbench-admin', 10_000);
    await version.connect();
    const serverVersion = (await version.query<{ server_version: string }>('show server_version'))
      .rows[0]?.server_version;
    await version.end();
    console.log(
      `# lock contention: ${String(params.rate)} queries/s over ${String(params.connections)} connections ` +
        `on accounts (${String(params.rows)} rows); a report holds it ${String(holdMs / 1000)} s from ` +
        `${String(LEAD_IN_MS / 1000)} s; the ALTER starts ${String(ALTER_AFTER_MS / 1000)} s into it; ` +
        `${String(params.windowMs / 1000)} s window, ${String(params.runs)} rounds, medians`,
    );
    console.log(
      `machine: ${String(os.cpus().length)} CPUs, Node ${process.version}, PostgreSQL ${serverVersion ?? '?'}\n`,
    );
    const runs: RunResult[] = [];
    for (let round = 0; round < params.runs; round += 1) {
      for (const row of rotate(rows, round)) {
        const run = await runRow(row, round, params, dirs);
        runs.push(run);
        const m = run.migration;
        console.error(
          `[${String(round + 1)}/${String(params.runs)}] ${row.name}: p50 ${formatMs(run.app.p50)}, ` +
            `p99 ${formatMs(run.app.p99)}, max ${formatMs(run.app.max)}, ${String(run.app.slow)} over ` +
            `${String(SLOW_MS)} ms of ${String(run.app.count)}` +
            (m === null
              ? ''
              : `; migration ${String(m.wallMs)} ms (${String(m.startedAtMs)}-${String(m.endedAtMs)}` +
                `${alterSent(m)}; report ${String(run.report.heldAtMs)}-${String(run.report.releasedAtMs)}; ` +
                `exclusive lock queued ${String(run.queue.totalMs)} ms from ${String(run.queue.firstAtMs)}), ` +
                `${m.outcome}${m.columnAdded ? '' : ', column not added'}, ` +
                `${String(m.lockEvents.length)} lock events`),
        );
      }
    }
    const summaries = rows.map((row) => summarize(row, runs));
    printTable(summaries, params);
    const problems = flags.check ? checkCriterion(summaries, runs, params) : [];
    const results = path.join(here, 'results');
    await mkdir(results, { recursive: true });
    const file = path.join(
      results,
      `lock-contention-${new Date().toISOString().replaceAll(':', '-')}.json`,
    );
    await writeFile(
      file,
      `${JSON.stringify(
        {
          machine: { cpus: os.cpus().length, node: process.version, postgres: serverVersion },
          params: {
            ...params,
            admin: undefined,
            leadInMs: LEAD_IN_MS,
            alterAfterMs: ALTER_AFTER_MS,
          },
          rows,
          summaries: summaries.map(({ row, ...rest }) => ({ row: row.name, ...rest })),
          runs,
          check: flags.check ? { problems } : null,
        },
        null,
        2,
      )}\n`,
    );
    console.error(`\nresults: ${path.relative(process.cwd(), file)}`);
    if (problems.length > 0) {
      console.error(`\ncheck failed:\n${problems.map((problem) => `- ${problem}`).join('\n')}`);
      process.exitCode = 1;
    } else if (flags.check) {
      console.error('\ncheck passed');
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
