/**
 * Issue 13's fleet: one set of migrations over many tenants, offloop's fleet against the ways
 * people do it without one, interleaved in one run.
 *
 *   ./dev node bench/fleet.ts [--tenants 1000] [--databases 100] [--migrations 20] [--reps 1]
 *                             [--only schemas|databases] [--sample 100] [--full] [--quick]
 *                             [--concurrency 8] [--threads n] [--check] [--url postgres://...]
 *   ./dev node bench/fleet.ts --sweep [--tenants 200] [--reps 3]   (fleet settings)
 *   ./dev node bench/fleet.ts --trace [--tenants 20]               (what a target sends)
 *
 * Scenarios (`--only` picks one):
 *
 * - **schemas**: `--tenants` schemas `tenant_0001...` in one database, each given the same
 *   `--migrations` small SQL files ({@link tenantMigrations}: a table with a primary key, an
 *   index, a column, a few rows, over and over).
 * - **databases**: `--databases` databases, the same files in each one's `public` schema.
 *
 * Contenders, each on fresh targets (a database with empty tenant schemas, or fresh databases)
 * created before its timing and dropped after it; the order rotates per rep:
 *
 * - **fleet**: `createFleet({ targets, dir }).up()` with its defaults (or `--threads`/
 *   `--concurrency`), in a Node process of its own running the packed packages installed by npm,
 *   as a deploy step or a server runs them (bench/fleet-run.ts; the `up()` call is timed). A
 *   schema target is `{ url, schema }`: `schema` is where its migrations run (first on their
 *   `search_path`) and where its ledger lives. The offloop loop below runs from the workspace.
 * - **offloop loop**: one `createMigrator({ url, dir, schema })` per tenant, `up()`, `close()`, in
 *   sequence: what a fleet replaces. Minutes at 1,000 tenants: measured on the first `--sample`
 *   tenants and extrapolated linearly (the table says so) unless `--full`.
 * - **node-pg-migrate loop**: its programmatic `runner` per tenant in sequence, with its `schema`
 *   option (it sets `search_path`) and its defaults otherwise (all pending files in one
 *   transaction); sampled like the offloop loop.
 * - **psql floor**: the same SQL files by N parallel `psql` sessions (N = the fleet's
 *   concurrency), the tenants dealt round-robin, per tenant `set search_path` (or `\connect`) then
 *   `begin; \i file commit;` per file. No ledger, no lock: the floor.
 * - **pg-boss 3 workers** (schemas only): the pg-boss mode through the CLI (packed and installed
 *   with npm, as the fleet's own process), as real processes on this host. Per rep a fresh
 *   control database; `offloop fleet up --queue <control> --url <db> --schemas 'tenant_*'
 *   --json` (the follower: one job per target, then follows them to the end); once it has made
 *   the queue, 3 `offloop fleet work --queue <control> --exit-when-idle` processes
 *   whose `--concurrency` adds up to the fleet's (3 + 3 + 2 for 8). Once about a third of the
 *   targets are done (the workers' lines) and the first worker holds a target's lock (its
 *   connections carry `PGAPPNAME`), it is killed with SIGKILL. Timed from the
 *   follower's spawn to its exit; then checked: the follower's JSON says every target applied,
 *   every tenant's version table holds every migration exactly once, no job dead-lettered; the
 *   jobs retried (the killed worker's, back after their heartbeat expired) are reported. Benchmark
 *   settings: `--heartbeat 10s` (pg-boss's minimum; pg-boss's supervisor looks every 5 s),
 *   `--retry-delay 1s`, `--idle-time 3s`.
 *
 * After the fleet's run, in its process: the no-op `fleet.up()` over the now up-to-date targets
 * (warm: same fleet, median of 5); then the cold no-op (a fresh Node process imports
 * `@offloop/worker`, `createFleet(...).up()`, `close()`, timed from spawn to exit; bench/fleet-noop.ts
 * run with the packed packages installed by npm, as a user's deploy step runs them),
 * and the process's event-loop delay (`monitorEventLoopDelay`, 1 ms resolution) during the fleet's
 * `up()` against the same process idle for as long (at most 10 s), and against a separate idle
 * Node process measured during the same `up()`: the delay any process on the machine suffers while
 * the server and the fleet's threads keep its CPUs busy (the host's delay beyond that is the
 * fleet's own).
 *
 * `--check` asserts the Done-when items (schemas scenario): the fleet at least 5x faster than the
 * offloop loop and within 1.5x of the psql floor; both no-ops under 1 s; the event-loop p99 during
 * the fleet within 2 ms of idle. `--sweep` times the fleet alone at threads 2/4 x concurrency
 * 4/8/16 and threads 8/16 (`maxConnectionsPerServer` at least twice the concurrency, so the cap does
 * not hide it).
 * `--trace` runs the fleet, the offloop loop and the psql floor once each through a counting proxy
 * (bench/trace.ts) and splits a target's connections, round trips and statements. `--contenders`
 * (comma-separated) runs only some contenders, e.g. `fleet,psql floor` with `--threads 8`. Results go to bench/results/ as JSON.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { runner as nodePgMigrate } from 'node-pg-migrate';
import pg from 'pg';
import { createFleet, createMigrator } from '@offloop/worker';
import {
  adminUrl,
  Checks,
  cleanEnv,
  installedAt,
  installPeers,
  machine,
  ms,
  query,
  removeWorkDir,
  run,
  table,
  versions,
  workDir,
  writeMigrations,
  type Migration,
} from './peers.ts';
import { median, rotate } from './stats.ts';
import { WireCounter, type ConnectionTrace } from './trace.ts';

const SCENARIOS = ['schemas', 'databases'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: flags } = parseArgs({
  options: {
    tenants: { type: 'string' },
    databases: { type: 'string' },
    migrations: { type: 'string', default: '20' },
    reps: { type: 'string', default: '1' },
    only: { type: 'string' },
    sample: { type: 'string', default: '100' },
    full: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    threads: { type: 'string' },
    concurrency: { type: 'string' },
    check: { type: 'boolean', default: false },
    sweep: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    url: { type: 'string' },
    contenders: { type: 'string' },
  },
});
const admin = adminUrl(flags.url);
const sizes: Record<Scenario, number> = {
  schemas: Number(flags.tenants ?? (flags.quick ? 50 : flags.trace ? 20 : 1000)),
  databases: Number(flags.databases ?? (flags.quick ? 10 : 100)),
};
const migrationCount = Number(flags.migrations);
const reps = Number(flags.reps);
const scenarios: readonly Scenario[] =
  flags.only === undefined ? SCENARIOS : [flags.only as Scenario];
for (const scenario of scenarios)
  if (!SCENARIOS.includes(scenario))
    throw new Error(`--only: unknown scenario ${scenario} (${SCENARIOS.join(', ')})`);
/** The fleet's settings: its defaults unless given. */
const fleetSettings = {
  ...(flags.threads === undefined ? {} : { threads: Number(flags.threads) }),
  ...(flags.concurrency === undefined ? {} : { concurrency: Number(flags.concurrency) }),
};
/** psql sessions: the fleet's `--concurrency` when given, else 8 (the issue's floor). */
const sessions = Number(flags.concurrency ?? 8);

/** The fleet's own default concurrency (fleet-options.ts): twice the CPUs, 4 to 16. */
const fleetConcurrency = Number(
  flags.concurrency ?? Math.max(4, Math.min(16, 2 * availableParallelism())),
);

/**
 * `count` migrations like a tenant application's: every fourth starts a table (identity primary
 * key, a few columns), then indexes it, adds a column, inserts a few rows. No schema names: they
 * run wherever the search path points.
 */
function tenantMigrations(count: number): Migration[] {
  return versions(count).map((version, i) => {
    const table = `t_${String(Math.floor(i / 4) + 1)}`;
    switch (i % 4) {
      case 0:
        return {
          version,
          name: `create_${table}`,
          up:
            `create table ${table} (\n  id bigint generated always as identity primary key,\n` +
            `  name text not null,\n  amount numeric(12, 2) not null default 0,\n` +
            `  created_at timestamptz not null default now()\n);`,
        };
      case 1:
        return {
          version,
          name: `index_${table}`,
          up: `create index ${table}_name on ${table} (name);`,
        };
      case 2:
        return {
          version,
          name: `add_note_${table}`,
          up: `alter table ${table} add column note text;`,
        };
      default:
        return {
          version,
          name: `seed_${table}`,
          up: `insert into ${table} (name, amount, note) values\n  ('a', 1, 'first'), ('b', 2, null), ('c', 3, 'third');`,
        };
    }
  });
}
const tablesOf = (count: number) => Math.ceil(count / 4);

/** The migration files in each format, written once. */
type Files = {
  /** offloop's format (dbmate's markers). */
  readonly offloop: string;
  readonly nodePgMigrate: string;
  /** The bare SQL files for psql, in order. */
  readonly psql: readonly string[];
};

async function writeFiles(work: string): Promise<Files> {
  const migrations = tenantMigrations(migrationCount);
  const files = {
    offloop: path.join(work, 'offloop'),
    nodePgMigrate: path.join(work, 'node-pg-migrate'),
    psql: migrations.map(({ version, name }) => path.join(work, 'psql', `${version}_${name}.sql`)),
  };
  await writeMigrations(files.offloop, 'dbmate', migrations);
  await writeMigrations(files.nodePgMigrate, 'node-pg-migrate', migrations);
  await mkdir(path.join(work, 'psql'), { recursive: true });
  for (const [i, { up }] of migrations.entries()) await writeFile(files.psql[i] ?? '', `${up}\n`);
  return files;
}

/** One tenant: a database and a schema, and the URL that puts the search path on that schema. */
type Tenant = { readonly url: string; readonly schema: string; readonly database: string };

const schemaName = (i: number) => `tenant_${String(i + 1).padStart(4, '0')}`;

const databaseUrl = (name: string) => {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.href;
};

/** A contender's fresh tenants: created before its timing, dropped after it. */
class Tenants {
  readonly list: readonly Tenant[];
  readonly #databases: readonly string[];

  private constructor(list: readonly Tenant[], databases: readonly string[]) {
    this.list = list;
    this.#databases = databases;
  }

  /** `count` tenants of `scenario`, named after `purpose`. */
  static async create(scenario: Scenario, count: number, purpose: string): Promise<Tenants> {
    const prefix = `bench_fleet_${String(process.pid)}_${purpose.replace(/\W/g, '_')}`;
    if (scenario === 'schemas') {
      await query(admin, `create database ${pg.escapeIdentifier(prefix)}`);
      const url = databaseUrl(prefix);
      const schemas = Array.from({ length: count }, (_, i) => schemaName(i));
      await query(url, schemas.map((s) => `create schema ${pg.escapeIdentifier(s)};`).join('\n'));
      return new Tenants(
        schemas.map((schema) => ({ url, schema, database: prefix })),
        [prefix],
      );
    }
    const names = Array.from({ length: count }, (_, i) => `${prefix}_${String(i + 1)}`);
    for (const name of names) await query(admin, `create database ${pg.escapeIdentifier(name)}`);
    return new Tenants(
      names.map((name) => ({ url: databaseUrl(name), schema: 'public', database: name })),
      names,
    );
  }

  async drop(): Promise<void> {
    for (const name of this.#databases)
      await query(admin, `drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  }
}

/** Throw unless the first `count` tenants have every table, with its rows, in their own schema. */
async function verify(tenants: readonly Tenant[], count: number, who: string): Promise<void> {
  const tables = tablesOf(migrationCount);
  const byDatabase = new Map<string, Tenant[]>();
  for (const tenant of tenants.slice(0, count))
    byDatabase.set(tenant.database, [...(byDatabase.get(tenant.database) ?? []), tenant]);
  for (const [database, list] of byDatabase) {
    const schemas = list.map((tenant) => tenant.schema);
    const [row] = await query<{ tables: number; stray: number }>(
      databaseUrl(database),
      `select count(*) filter (where schemaname = any('{${schemas.join(',')}}'))::int as tables,
              count(*) filter (where schemaname <> all('{${schemas.join(',')}}'))::int as stray
         from pg_tables where tablename ~ '^t_[0-9]+$'`,
    );
    if (row?.tables !== tables * list.length || row.stray !== 0)
      throw new Error(
        `${who}: ${String(row?.tables)} of ${String(tables * list.length)} tables in ${database}'s ` +
          `tenant schemas, ${String(row?.stray)} elsewhere`,
      );
  }
}

type Contender =
  'fleet' | 'offloop loop' | 'node-pg-migrate loop' | 'psql floor' | 'pg-boss 3 workers';
const ALL_CONTENDERS: readonly Contender[] = [
  'fleet',
  'offloop loop',
  'node-pg-migrate loop',
  'psql floor',
  'pg-boss 3 workers',
];
/** The contenders that run in `scenario`: the pg-boss mode's only over schemas. */
const contendersOf = (scenario: Scenario): readonly Contender[] =>
  scenario === 'schemas' ? CONTENDERS : CONTENDERS.filter((c) => c !== 'pg-boss 3 workers');
const CONTENDERS: readonly Contender[] =
  flags.contenders === undefined
    ? ALL_CONTENDERS
    : ALL_CONTENDERS.filter((c) => flags.contenders?.split(',').includes(c));
if (CONTENDERS.length === 0) throw new Error(`--contenders: none of ${ALL_CONTENDERS.join(', ')}`);

/** Event-loop delay percentiles, ms. */
type Loop = { readonly p50: number; readonly p99: number; readonly max: number };

/** One contender's run: its time over the tenants it ran, scaled to all when sampled. */
type Sample = {
  /** Wall time for all the scenario's tenants (extrapolated when `ran` < `tenants`). */
  readonly ms: number;
  readonly ran: number;
  readonly tenants: number;
  /** Measured on the fleet's runs only. */
  readonly fleet?: {
    readonly warmNoop: number;
    readonly coldNoop: number;
    readonly coldNoopCall: number;
    readonly loop: Loop;
    readonly idle: Loop;
    /** A separate idle Node process's, over the same `up()`: the machine's own contention. */
    readonly sidecar: Loop;
  };
  /** Measured on the pg-boss runs only. */
  readonly queue?: QueueStats;
};

async function runContender(
  contender: Contender,
  scenario: Scenario,
  files: Files,
  work: string,
  purpose: string,
): Promise<Sample> {
  const count = sizes[scenario];
  const sampled =
    !flags.full && (contender === 'offloop loop' || contender === 'node-pg-migrate loop');
  const ran = sampled ? Math.min(count, Number(flags.sample)) : count;
  const tenants = await Tenants.create(scenario, ran, purpose);
  try {
    if (contender === 'fleet') {
      const result = await runFleet(tenants.list, files, work);
      await verify(tenants.list, ran, contender);
      return { ms: result.ms, ran, tenants: count, fleet: result.fleet };
    }
    if (contender === 'pg-boss 3 workers') {
      const result = await runQueue(tenants.list, files, work);
      await verify(tenants.list, ran, contender);
      return { ms: result.ms, ran, tenants: count, queue: result.queue };
    }
    const apply = await prepare(contender, scenario, tenants.list, files, work);
    const started = performance.now();
    await apply();
    const elapsed = performance.now() - started;
    await verify(tenants.list, ran, contender);
    return { ms: (elapsed * count) / ran, ran, tenants: count };
  } finally {
    await tenants.drop();
  }
}

/** What a contender other than the fleet runs, ready to time (psql's scripts written first). */
async function prepare(
  contender: Exclude<Contender, 'fleet' | 'pg-boss 3 workers'>,
  scenario: Scenario,
  tenants: readonly Tenant[],
  files: Files,
  work: string,
): Promise<() => Promise<void>> {
  switch (contender) {
    case 'offloop loop':
      return async () => {
        for (const { url, schema } of tenants) {
          const migrator = createMigrator({ url, dir: files.offloop, schema });
          try {
            await migrator.up();
          } finally {
            await migrator.close();
          }
        }
      };
    case 'node-pg-migrate loop':
      return async () => {
        for (const { url, schema } of tenants)
          await nodePgMigrate({
            databaseUrl: url,
            dir: files.nodePgMigrate,
            schema,
            direction: 'up',
            migrationsTable: 'pgmigrations',
            count: Infinity,
            logger: silent,
          });
      };
    case 'psql floor':
      return psqlFloor(scenario, tenants, files, work);
  }
}

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  log: () => undefined,
};

/** The fleet's targets: a schema target carries the search path in its URL too (see the top). */
const targetsOf = (tenants: readonly Tenant[]) =>
  tenants.map(({ url, schema }) => ({ url, schema }));

/**
 * The fleet's `up()` in a process of its own, from the packed packages (bench/fleet-run.ts): its
 * time and its event-loop delay during the run; then, in that process, the warm no-op (the same
 * fleet again, median of 5) and the process idle for as long as the `up()` took (2 to 10 s); then
 * the cold no-op in a fresh process. A separate idle process measures its own delay during the
 * `up()` (the machine's contention).
 */
async function runFleet(
  tenants: readonly Tenant[],
  files: Files,
  work: string,
): Promise<{ ms: number; fleet: NonNullable<Sample['fleet']> }> {
  const targets = targetsOf(tenants);
  const dir = await packedProject(work);
  const input = path.join(work, 'fleet-targets.json');
  await writeFile(input, JSON.stringify({ targets, dir: files.offloop, ...fleetSettings }));
  const sidecar = await startSidecar();
  let stopping: Promise<Loop> | null = null;
  const stopSidecar = () => (stopping ??= sidecar.stop());
  let report: FleetRunReport;
  try {
    report = await runPacked<FleetRunReport>(dir, 'fleet-run.mts', [input], 'applied', () => {
      void stopSidecar();
    });
  } finally {
    await stopSidecar();
  }
  if (report.counts.applied !== tenants.length)
    throw new Error(`fleet: ${JSON.stringify(report.counts)}`);
  for (const noop of report.warmNoops)
    if (noop.upToDate !== tenants.length)
      throw new Error(
        `fleet no-op: ${String(noop.upToDate)} of ${String(tenants.length)} up to date`,
      );
  const cold = await coldNoop(targets, files, work, tenants.length);
  return {
    ms: report.ms,
    fleet: {
      warmNoop: median(report.warmNoops.map((noop) => noop.ms)),
      coldNoop: cold.ms,
      coldNoopCall: cold.call,
      loop: report.loop,
      idle: report.idle,
      sidecar: await stopSidecar(),
    },
  };
}

/** What bench/fleet-run.ts prints at its end. */
type FleetRunReport = {
  readonly ms: number;
  readonly counts: Record<string, number>;
  readonly warmNoops: readonly { readonly ms: number; readonly upToDate: number }[];
  readonly loop: Loop;
  readonly idle: Loop;
};

/**
 * Run `script` of the packed project `dir` with Node; `onMarker` once it prints `marker` on a line
 * of its own. Resolves with its last line, as JSON; rejects when it exits with an error.
 */
async function runPacked<T>(
  dir: string,
  script: string,
  args: readonly string[],
  marker: string,
  onMarker: () => void,
): Promise<T> {
  const child = spawn(process.execPath, [path.join(dir, script), ...args], {
    cwd: dir,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let marked = false;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    if (!marked && stdout.split('\n').includes(marker)) {
      marked = true;
      onMarker();
    }
  });
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`${script} exited ${String(code)}\n${stderr}`);
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
}

/**
 * A separate Node process that does nothing but measure its own event-loop delay, from when it
 * is ready until {@link Sidecar.stop}: what any process on this machine suffers while the fleet
 * and the server keep its CPUs busy. The host's delay beyond it is the fleet's own doing.
 */
type Sidecar = { readonly stop: () => Promise<Loop> };

const SIDECAR = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
process.stdout.write('ready\\n');
process.stdin.resume();
process.stdin.on('end', () => {
  histogram.disable();
  process.stdout.write(JSON.stringify({
    p50: histogram.percentile(50) / 1e6,
    p99: histogram.percentile(99) / 1e6,
    max: histogram.max / 1e6,
  }) + '\\n');
});`;

async function startSidecar(): Promise<Sidecar> {
  const child = spawn(process.execPath, ['-e', SIDECAR], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the sidecar exited ${String(code)} at start`)));
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('ready\n')) resolve();
    });
  });
  return {
    stop: async () => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin.end();
      await exited;
      return JSON.parse(output.slice(output.indexOf('ready\n') + 'ready\n'.length)) as Loop;
    },
  };
}

/** The packed packages installed once per bench run, with the fleet's scripts beside them. */
let installed: Promise<string> | undefined;

/**
 * An npm project with offloop's packed packages (as a user installs them, bench/peers.ts) and
 * bench/fleet-run.ts and bench/fleet-noop.ts copied in, made once per bench run: the fleet runs
 * from it, not from the workspace's TypeScript sources (whose type stripping costs every thread a
 * WebAssembly compile, and a fresh process hundreds of module files).
 */
function packedProject(work: string): Promise<string> {
  installed ??= (async () => {
    console.error('# packing offloop and installing it with npm');
    const { dir } = await installPeers(path.join(work, 'install'));
    // .mts: the npm project is CommonJS (`npm init -y`).
    for (const script of ['fleet-run', 'fleet-noop'])
      await copyFile(
        path.join(import.meta.dirname, `${script}.ts`),
        path.join(dir, `${script}.mts`),
      );
    return dir;
  })();
  return installed;
}

/** A fresh Node process: import, `createFleet(...).up()`, `close()`; from spawn to exit. */
async function coldNoop(
  targets: readonly { url: string; schema: string }[],
  files: Files,
  work: string,
  expected: number,
): Promise<{ ms: number; call: number }> {
  const dir = await packedProject(work);
  const input = path.join(work, 'targets.json');
  await writeFile(input, JSON.stringify({ targets, dir: files.offloop, ...fleetSettings }));
  const result = await run(process.execPath, [path.join(dir, 'fleet-noop.mts'), input], {
    cwd: dir,
    env: cleanEnv(),
  });
  if (result.code !== 0)
    throw new Error(`cold no-op exited ${String(result.code)}\n${result.stderr}`);
  const report = JSON.parse(result.stdout) as { ms: number; upToDate: number };
  if (report.upToDate !== expected)
    throw new Error(`cold no-op: ${String(report.upToDate)} of ${String(expected)} up to date`);
  return { ms: result.ms, call: report.ms };
}

/** The pg-boss run's settings, short for a benchmark (the CLI's defaults: 30 s, 10 s, 30 s). */
const QUEUE_SETTINGS = { heartbeat: '10s', retryDelay: '1s', idleTime: '3s' } as const;
const QUEUE_NAME = 'offloop-fleet';
const WORKERS = 3;
/** A worker's line for a target it finished: `tenant_0001: applied 20 migrations, now at ... in 1.2 s`. */
const TARGET_DONE = /: (?:applied \d+ migrations?,|up to date in) /g;

/** What the pg-boss run adds to its sample. */
type QueueStats = {
  /** Each worker's `--concurrency`; the first is the one killed. */
  readonly workers: readonly number[];
  /** From the follower's spawn: when the queue existed and the workers were spawned (ms). */
  readonly workersAt: number;
  /** From the follower's spawn: the SIGKILL (ms). */
  readonly killedAt: number;
  /** Targets the workers had finished when the first was killed. */
  readonly doneAtKill: number;
  /** Targets' locks the killed worker held just before its kill. */
  readonly inFlightAtKill: number;
  /** Targets each worker finished (the killed one: before it died). */
  readonly perWorker: readonly number[];
  /** Jobs retried (`retry_count > 0`): the killed worker's in flight, back after their heartbeat. */
  readonly retried: number;
  /** From the kill until the last retried job started again on a survivor (ms). */
  readonly backAfter: number | null;
  /** A completed job's time from its start to its completion, median (ms). */
  readonly jobMs: number | null;
};

/** A running `offloop` process: its output so far, and its exit code. */
type Running = {
  readonly child: ReturnType<typeof spawn>;
  readonly output: { stdout: string; stderr: string };
  readonly exit: Promise<number | null>;
};

/** `offloop` (the packed CLI, installed with npm in {@link packedProject}) with `args`, in `cwd`. */
function startOffloop(
  bin: string,
  args: readonly string[],
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Running {
  // Without the workspace's NODE_OPTIONS: its `offloop-source` condition is for the sources.
  const env = cleanEnv(extraEnv);
  const child = spawn(process.execPath, [bin, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  return { child, output, exit };
}

const isRunning = ({ child }: Running) => child.exitCode === null && child.signalCode === null;

/** Wait until `check` holds; throw if `follower` exits first. */
async function until(
  what: string,
  follower: Running,
  check: () => boolean | Promise<boolean>,
): Promise<void> {
  while (!(await check())) {
    if (!isRunning(follower))
      throw new Error(
        `pg-boss: the follower exited before ${what}\n${follower.output.stdout}\n${follower.output.stderr}`,
      );
    await sleep(100);
  }
}

/** The `application_name` (`PGAPPNAME`) of the worker to be killed. */
const VICTIM = 'bench-victim';

/**
 * Targets in flight on the victim: the migration locks (exclusive advisory locks; a target's work
 * lock is a shared one) its connections to `url` hold.
 */
async function victimLocks(url: string): Promise<number> {
  const [row] = await query<{ held: number }>(
    url,
    `select count(*)::int as held
       from pg_locks l join pg_stat_activity a using (pid)
      where l.locktype = 'advisory' and l.mode = 'ExclusiveLock' and l.granted
        and a.application_name like '${VICTIM}%'`,
  );
  return row?.held ?? 0;
}

/** Whether the follower has made pg-boss's schema and the queue in `controlUrl`. */
async function queueMade(controlUrl: string): Promise<boolean> {
  const [row] = await query<{ made: boolean }>(
    controlUrl,
    `select to_regclass('pgboss.queue') is not null as made`,
  );
  if (row?.made !== true) return false;
  const queues = await query(
    controlUrl,
    `select 1 from pgboss.queue where name = ${pg.escapeLiteral(QUEUE_NAME)}`,
  );
  return queues.length > 0;
}

/**
 * The pg-boss mode (see the top): a fresh control database; the follower `fleet up --queue
 * --json`; once it has made the queue, {@link WORKERS} `fleet work` processes, their concurrency
 * adding up to the fleet's; the first killed (SIGKILL) once a third of the targets are done. Timed
 * from the follower's spawn to its exit; then the follower's result, every tenant's version table
 * and the queue's jobs are checked.
 */
async function runQueue(
  tenants: readonly Tenant[],
  files: Files,
  work: string,
): Promise<{ ms: number; queue: QueueStats }> {
  const [first] = tenants;
  if (first === undefined) throw new Error('pg-boss: no tenants');
  const control = `${first.database}_control`;
  await query(admin, `create database ${pg.escapeIdentifier(control)}`);
  const controlUrl = databaseUrl(control);
  // At least 2 per worker: a worker fetches as many jobs as its concurrency and fetches again at
  // once while they come back full, which pg-boss does not do for one job at a time.
  const total = Math.max(fleetConcurrency, 2 * WORKERS);
  const concurrencies = Array.from({ length: WORKERS }, (_, i) =>
    Math.max(1, Math.floor(total / WORKERS) + (i < total % WORKERS ? 1 : 0)),
  );
  // The CLI as a user installs it, like the fleet contender (not the workspace's sources).
  const bin = installedAt(await packedProject(work)).offloop;
  const processes: Running[] = [];
  try {
    const started = performance.now();
    const follower = startOffloop(
      bin,
      [
        'fleet',
        'up',
        '--queue',
        controlUrl,
        '--url',
        first.url,
        '--schemas',
        'tenant_*',
        '--dir',
        files.offloop,
        '--heartbeat',
        QUEUE_SETTINGS.heartbeat,
        '--retry-delay',
        QUEUE_SETTINGS.retryDelay,
        '--json',
      ],
      work,
    );
    processes.push(follower);
    // A fresh control database gets pg-boss's schema from one process (the follower), not four
    // at once; the workers start while it sends the jobs.
    await until('the queue was made', follower, () => queueMade(controlUrl));
    const workersAt = performance.now() - started;
    const workers = concurrencies.map((concurrency, i) =>
      startOffloop(
        bin,
        [
          'fleet',
          'work',
          '--queue',
          controlUrl,
          '--dir',
          files.offloop,
          '--concurrency',
          String(concurrency),
          '--exit-when-idle',
          '--idle-time',
          QUEUE_SETTINGS.idleTime,
        ],
        work,
        // The victim's target connections carry this name (before offloop's run tag), so that
        // the bench sees when it holds a target's lock.
        i === 0 ? { PGAPPNAME: VICTIM } : {},
      ),
    );
    processes.push(...workers);
    const [victim, ...survivors] = workers;
    if (victim === undefined) throw new Error('pg-boss: no workers');
    const doneBy = (worker: Running) => worker.output.stderr.match(TARGET_DONE)?.length ?? 0;
    const done = () => workers.reduce((sum, worker) => sum + doneBy(worker), 0);
    let inFlightAtKill = 0;
    // A worker's slot fetches a job at most once a second and a job may take far less: the victim
    // often holds none. Killed once a third are done and it holds at least one target's lock.
    await until('a third of the targets were done', follower, async () => {
      const dead = workers.find((worker) => !isRunning(worker));
      if (dead !== undefined)
        throw new Error(`pg-boss: a worker exited early\n${dead.output.stderr}`);
      if (done() < Math.ceil(tenants.length / 3)) return false;
      inFlightAtKill = await victimLocks(first.url);
      return inFlightAtKill > 0;
    });
    victim.child.kill('SIGKILL');
    const killedAt = performance.now() - started;
    const doneAtKill = done();
    const [clock] = await query<{ at: number }>(
      controlUrl,
      'select (extract(epoch from clock_timestamp()) * 1000)::float8 as at',
    );
    const code = await follower.exit;
    const elapsed = performance.now() - started;
    if (code !== 0)
      throw new Error(
        `pg-boss: the follower exited ${String(code)}\n${follower.output.stdout}\n${follower.output.stderr}`,
      );
    await victim.exit;
    for (const [i, worker] of survivors.entries()) {
      const workerCode = await worker.exit;
      if (workerCode !== 0)
        throw new Error(
          `pg-boss: worker ${String(i + 2)} exited ${String(workerCode)}\n${worker.output.stderr}`,
        );
    }

    const result = JSON.parse(follower.output.stdout) as {
      counts: Record<string, number>;
      targets: { target: string; outcome: string }[];
    };
    const applied = result.targets.filter((target) => target.outcome === 'applied');
    if (
      result.counts['applied'] !== tenants.length ||
      applied.length !== tenants.length ||
      new Set(applied.map((target) => target.target)).size !== tenants.length
    )
      throw new Error(`pg-boss: the follower's result: ${JSON.stringify(result.counts)}`);
    await checkLedgers(tenants, 'pg-boss');
    const [jobs] = await query<{
      retried: number;
      dead: number;
      back: number | null;
      job: number | null;
    }>(
      controlUrl,
      `select count(*) filter (where name = ${pg.escapeLiteral(QUEUE_NAME)} and retry_count > 0)::int as retried,
              count(*) filter (where name = ${pg.escapeLiteral(`${QUEUE_NAME}.dead`)})::int as dead,
              (extract(epoch from max(started_on) filter (
                 where name = ${pg.escapeLiteral(QUEUE_NAME)} and retry_count > 0)) * 1000)::float8 as back,
              (percentile_cont(0.5) within group (order by extract(epoch from completed_on - started_on))
                 filter (where name = ${pg.escapeLiteral(QUEUE_NAME)} and state = 'completed') * 1000)::float8 as job
         from pgboss.job`,
    );
    if (jobs === undefined || jobs.dead !== 0)
      throw new Error(`pg-boss: ${String(jobs?.dead)} jobs dead-lettered`);
    return {
      ms: elapsed,
      queue: {
        workers: concurrencies,
        workersAt,
        killedAt,
        doneAtKill,
        inFlightAtKill,
        perWorker: workers.map(doneBy),
        retried: jobs.retried,
        backAfter: jobs.back === null || clock === undefined ? null : jobs.back - clock.at,
        jobMs: jobs.job,
      },
    };
  } finally {
    for (const running of processes) if (isRunning(running)) running.child.kill('SIGKILL');
    await Promise.allSettled(processes.map((running) => running.exit));
    await query(admin, `drop database if exists ${pg.escapeIdentifier(control)} with (force)`);
  }
}

/** Throw unless every tenant's version table holds each of the migrations exactly once. */
async function checkLedgers(tenants: readonly Tenant[], who: string): Promise<void> {
  const expected = versions(migrationCount);
  const byUrl = new Map<string, Tenant[]>();
  for (const tenant of tenants) byUrl.set(tenant.url, [...(byUrl.get(tenant.url) ?? []), tenant]);
  for (const [url, list] of byUrl) {
    const rows = await query<{ schema: string; n: number; versions: number; known: number }>(
      url,
      `select schema, count(*)::int as n, count(distinct version)::int as versions,
              count(*) filter (where version = any(${pg.escapeLiteral(`{${expected.join(',')}}`)}::text[]))::int as known
         from (${list
           .map(
             ({ schema }) =>
               `select ${pg.escapeLiteral(schema)} as schema, version from ${pg.escapeIdentifier(schema)}.offloop_migrations`,
           )
           .join('\n union all ')}) ledgers
        group by schema`,
    );
    const found = new Map(rows.map((row) => [row.schema, row]));
    const wrong = list.filter(({ schema }) => {
      const row = found.get(schema);
      return row?.n !== expected.length || row.versions !== expected.length || row.known !== row.n;
    });
    if (wrong.length > 0)
      throw new Error(
        `${who}: ${String(wrong.length)} version tables without every migration exactly once: ` +
          wrong
            .slice(0, 5)
            .map(({ schema }) => `${schema} ${JSON.stringify(found.get(schema) ?? null)}`)
            .join(', '),
      );
  }
}

/**
 * The floor: `sessions` psql processes at once, the tenants dealt round-robin; per tenant the
 * search path (or the database), then a transaction per file.
 */
async function psqlFloor(
  scenario: Scenario,
  tenants: readonly Tenant[],
  files: Files,
  work: string,
): Promise<() => Promise<void>> {
  const perFile = files.psql.map((file) => `begin;\n\\i '${file}'\ncommit;\n`).join('');
  const scripts = Array.from({ length: Math.min(sessions, tenants.length) }, () => '');
  tenants.forEach((tenant, i) => {
    const switchTo =
      scenario === 'schemas'
        ? `set search_path to ${pg.escapeIdentifier(tenant.schema)};\n`
        : `\\connect ${tenant.database}\n`;
    scripts[i % scripts.length] += switchTo + perFile;
  });
  const url = new URL(tenants[0]?.url ?? admin);
  url.search = '';
  const paths = await Promise.all(
    scripts.map(async (script, i) => {
      const file = path.join(work, `psql-session-${String(i)}.sql`);
      await writeFile(file, script);
      return file;
    }),
  );
  return async () => {
    const runs = await Promise.all(
      paths.map((file) =>
        run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url.href, '-f', file], {
          cwd: work,
        }),
      ),
    );
    for (const result of runs)
      if (result.code !== 0)
        throw new Error(`psql exited ${String(result.code)}\n${result.stderr}`);
  };
}

/** Each contender's samples per scenario, rep by rep. */
type Samples = Partial<Record<Contender, Sample[]>>;
type Results = Partial<Record<Scenario, Samples>>;

async function main(): Promise<void> {
  const work = await workDir('offloop-fleet');
  try {
    const files = await writeFiles(work);
    const before = await machine(admin);
    if (flags.sweep) return await sweep(files);
    if (flags.trace) return await trace(files, work);
    const results: Results = {};
    for (const scenario of scenarios) {
      const samples: Samples = {};
      for (let rep = 0; rep < reps; rep += 1)
        for (const contender of rotate(contendersOf(scenario), rep)) {
          const sample = await runContender(
            contender,
            scenario,
            files,
            work,
            `${scenario}_${contender}_${String(rep)}`,
          );
          (samples[contender] ??= []).push(sample);
          console.error(
            `# ${scenario} rep ${String(rep + 1)}/${String(reps)}: ${contender} ${ms(sample.ms)}` +
              (sample.ran < sample.tenants ? ` (extrapolated from ${String(sample.ran)})` : '') +
              (sample.fleet === undefined ? '' : ` ${JSON.stringify(sample.fleet)}`) +
              (sample.queue === undefined ? '' : ` ${JSON.stringify(sample.queue)}`),
          );
        }
      results[scenario] = samples;
    }
    const after = await machine(admin);
    console.log(`# before: ${before}\n# after:  ${after}`);
    report(results);
    await save({
      bench: 'fleet',
      flags,
      sizes,
      migrations: migrationCount,
      before,
      after,
      results,
    });
    if (flags.check) check(results);
  } finally {
    await removeWorkDir(work);
  }
}

/** Write `data` to bench/results/fleet-<time>.json. */
async function save(data: unknown): Promise<void> {
  const dir = path.join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `fleet-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`);
  console.error(`# results: ${file}`);
}

const perRep = (samples: Samples, a: Contender, b: Contender): number =>
  median((samples[a] ?? []).map((sample, rep) => sample.ms / (samples[b]?.[rep]?.ms ?? NaN)));

const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function report(results: Results): void {
  for (const scenario of SCENARIOS) {
    const samples = results[scenario];
    if (samples === undefined) continue;
    const count = sizes[scenario];
    const what =
      scenario === 'schemas'
        ? `${count.toLocaleString('en')} tenant schemas in one database`
        : `${count.toLocaleString('en')} tenant databases`;
    console.log(
      `\n## ${what} x ${String(migrationCount)} migrations (${reps === 1 ? 'one rep' : `medians of ${String(reps)} interleaved reps`})\n`,
    );
    console.log(
      table(
        ['contender', 'wall time', 'tenants/s', 'contender / fleet'],
        CONTENDERS.filter((contender) => samples[contender] !== undefined).map((contender) => {
          const list = samples[contender] ?? [];
          const wall = median(list.map((sample) => sample.ms));
          const ran = list[0]?.ran ?? count;
          const label =
            contender === 'psql floor'
              ? `psql floor, ${String(sessions)} sessions`
              : contender === 'pg-boss 3 workers'
                ? 'pg-boss, 3 workers (one killed)'
                : ran < count
                  ? `${contender} (${String(ran)} tenants, extrapolated)`
                  : contender;
          return [
            label,
            ms(wall),
            fixed((count * 1000) / wall, 0),
            contender === 'fleet' ? '-' : `x${fixed(perRep(samples, contender, 'fleet'))}`,
          ];
        }),
      ),
    );
    const queues = (samples['pg-boss 3 workers'] ?? []).flatMap((sample) =>
      sample.queue ? [sample.queue] : [],
    );
    if (queues.length > 0) console.log(`\n${queueNote(queues)}`);
    const fleets = (samples.fleet ?? []).flatMap((sample) => (sample.fleet ? [sample.fleet] : []));
    if (fleets.length === 0) continue;
    const of = (pick: (f: NonNullable<Sample['fleet']>) => number) => median(fleets.map(pick));
    console.log(
      `\n${table(
        ['fleet', 'value'],
        [
          ['no-op `fleet.up()`, warm process (median of 5)', ms(of((f) => f.warmNoop))],
          ['no-op, fresh process: spawn to exit', ms(of((f) => f.coldNoop))],
          ['no-op, fresh process: the `up()` call', ms(of((f) => f.coldNoopCall))],
          [
            'event-loop delay p50 / p99 / max during `up()`',
            `${fixed(of((f) => f.loop.p50))} / ${fixed(of((f) => f.loop.p99))} / ${fixed(of((f) => f.loop.max))} ms`,
          ],
          [
            'event-loop delay p50 / p99 / max, same process idle',
            `${fixed(of((f) => f.idle.p50))} / ${fixed(of((f) => f.idle.p99))} / ${fixed(of((f) => f.idle.max))} ms`,
          ],
          [
            'event-loop delay p50 / p99 / max of a separate idle process during `up()`',
            `${fixed(of((f) => f.sidecar.p50))} / ${fixed(of((f) => f.sidecar.p99))} / ${fixed(of((f) => f.sidecar.max))} ms`,
          ],
        ],
      )}`,
    );
  }
}

/** The pg-boss row's note: how it ran, and what the kill cost, rep by rep. */
function queueNote(queues: readonly QueueStats[]): string {
  const seconds = (value: number | null) => (value === null ? '-' : `${fixed(value / 1000, 1)} s`);
  const [first] = queues;
  return (
    `pg-boss: \`offloop fleet up --queue ... --json\` follows the run; 3 \`offloop fleet work\` ` +
    `processes (--concurrency ${first?.workers.join(' + ') ?? '?'}, each its own fleet and threads) ` +
    `spawned once the queue exists; timed from the follower's spawn to its exit (it polls its jobs ` +
    `once a second). The first worker is SIGKILLed after a third of the targets; its jobs come back ` +
    `once their heartbeat (--heartbeat ${QUEUE_SETTINGS.heartbeat}, pg-boss's minimum) is older than ` +
    `that and pg-boss's supervisor (every 5 s) sees it, plus --retry-delay ${QUEUE_SETTINGS.retryDelay}: ` +
    `that wait dominates at small sizes. Beyond it, a worker fetches as many jobs as its ` +
    `--concurrency at once, and again at once while fetches come back full (pg-boss's burst). ` +
    `Per rep: ` +
    queues
      .map(
        (q) =>
          `workers spawned at ${seconds(q.workersAt)}, the first killed at ${seconds(q.killedAt)} ` +
          `(${String(q.doneAtKill)} targets done, ${String(q.inFlightAtKill)} of its own in flight), ` +
          `${String(q.retried)} job${q.retried === 1 ? '' : 's'} retried, the last ` +
          `back ${seconds(q.backAfter)} after the kill; targets per worker ` +
          `${q.perWorker.join(' / ')}; a job's median time ${q.jobMs === null ? '-' : ms(q.jobMs)}`,
      )
      .join('; ') +
    '.'
  );
}

function check(results: Results): void {
  const checks = new Checks();
  const samples = results.schemas;
  if (samples === undefined) {
    console.log('# --check: the Done-when items are about the schemas scenario');
    return checks.finish();
  }
  const loopRatio = perRep(samples, 'offloop loop', 'fleet');
  checks.check(
    'the fleet at least 5x faster than a sequential loop of offloop',
    loopRatio >= 5,
    `x${fixed(loopRatio)}`,
  );
  const floorRatio = perRep(samples, 'fleet', 'psql floor');
  checks.check(
    'the fleet within 1.5x of the psql floor',
    floorRatio <= 1.5,
    `x${fixed(floorRatio)}`,
  );
  const fleets = (samples.fleet ?? []).flatMap((sample) => (sample.fleet ? [sample.fleet] : []));
  const warm = median(fleets.map((f) => f.warmNoop));
  const cold = median(fleets.map((f) => f.coldNoop));
  checks.check('the no-op rerun in a warm process under 1 s', warm < 1000, ms(warm));
  checks.check('the no-op rerun in a fresh process under 1 s', cold < 1000, ms(cold));
  const delta = median(fleets.map((f) => f.loop.p99 - f.idle.p99));
  const machine = median(fleets.map((f) => f.sidecar.p99 - f.idle.p99));
  const signed = (value: number) => `${value >= 0 ? '+' : ''}${fixed(value)} ms`;
  checks.check(
    'event-loop p99 during the fleet within 2 ms of idle',
    delta <= 2,
    `${signed(delta)} (a separate idle process during the fleet: ${signed(machine)})`,
  );
  checks.finish();
}

/** Fleet settings on this machine: threads x concurrency, interleaved, medians. */
async function sweep(files: Files): Promise<void> {
  const count = Number(flags.tenants ?? 200);
  // Threads beyond the concurrency would idle; each pair's per-server cap is high enough not to bind.
  const pairs = [
    [2, 4],
    [2, 8],
    [2, 16],
    [4, 4],
    [4, 8],
    [4, 16],
    [8, 8],
    [8, 16],
    [16, 16],
  ] as const;
  const settings = pairs.map(([threads, concurrency]) => ({
    key: `threads ${String(threads)}, concurrency ${String(concurrency)}`,
    threads,
    concurrency,
    maxConnectionsPerServer: Math.max(20, 2 * concurrency),
  }));
  const samples = new Map<string, number[]>(settings.map(({ key }) => [key, []]));
  for (let rep = 0; rep < reps; rep += 1)
    for (const { key, ...options } of rotate(settings, rep)) {
      const tenants = await Tenants.create('schemas', count, `sweep_${String(rep)}`);
      try {
        const fleet = createFleet({
          targets: targetsOf(tenants.list),
          dir: files.offloop,
          ...options,
        });
        try {
          const started = performance.now();
          await fleet.up();
          const elapsed = performance.now() - started;
          samples.get(key)?.push(elapsed);
          console.error(`# sweep rep ${String(rep + 1)}: ${key}: ${ms(elapsed)}`);
        } finally {
          await fleet.close();
        }
        await verify(tenants.list, count, key);
      } finally {
        await tenants.drop();
      }
    }
  console.log(
    `\n## Fleet settings, ${String(count)} schemas x ${String(migrationCount)} migrations (medians of ${String(reps)})\n`,
  );
  console.log(
    table(
      ['settings', 'wall time', 'tenants/s'],
      settings.map(({ key }) => {
        const wall = median(samples.get(key) ?? []);
        return [key, ms(wall), fixed((count * 1000) / wall, 0)];
      }),
    ),
  );
  await save({
    bench: 'fleet-sweep',
    count,
    migrations: migrationCount,
    samples: Object.fromEntries(samples),
  });
}

/**
 * What a target sends: the fleet, the offloop loop and the psql floor once each over the same
 * number of schemas, through a counting proxy (bench/trace.ts). Per target: connections, round
 * trips, the statements by kind; per connection: time to set up.
 */
async function trace(files: Files, work: string): Promise<void> {
  const count = sizes.schemas;
  const proxy = await WireCounter.start(admin);
  const report: Record<string, unknown> = {};
  try {
    for (const contender of ['fleet', 'offloop loop', 'psql floor'] as const) {
      const tenants = await Tenants.create('schemas', count, `trace_${contender}`);
      try {
        const proxied = tenants.list.map((tenant) => ({ ...tenant, url: proxy.url(tenant.url) }));
        let apply: () => Promise<void>;
        if (contender === 'fleet') {
          const fleet = createFleet({
            targets: targetsOf(proxied),
            dir: files.offloop,
            ...fleetSettings,
          });
          apply = async () => {
            try {
              await fleet.up();
            } finally {
              await fleet.close();
            }
          };
        } else apply = await prepare(contender, 'schemas', proxied, files, work);
        proxy.reset();
        const started = performance.now();
        await apply();
        const elapsed = performance.now() - started;
        await proxy.idle();
        await verify(tenants.list, count, contender);
        report[contender] = summarise(contender, proxy.connections, count, elapsed);
      } finally {
        await tenants.drop();
      }
    }
  } finally {
    await proxy.close();
  }
  await save({ bench: 'fleet-trace', count, migrations: migrationCount, report });
}

/** A statement's kind: its text with literals, numbers and the tenant's names folded. */
const kindOf = (text: string) =>
  text
    .replace(/'[^']*'/g, "'?'")
    .replace(/\b(tenant|t)_\d+/g, '$1_?')
    .replace(/\$\d+/g, '$?')
    .replace(/\b\d+\b/g, '?')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 110);

function summarise(
  contender: string,
  connections: readonly ConnectionTrace[],
  count: number,
  elapsed: number,
): unknown {
  const kinds = new Map<string, number>();
  for (const connection of connections)
    for (const text of connection.sent) kinds.set(kindOf(text), (kinds.get(kindOf(text)) ?? 0) + 1);
  const roundTrips = connections.reduce((sum, c) => sum + c.roundTrips, 0);
  const statements = connections.reduce((sum, c) => sum + c.sent.length, 0);
  const setup = median(connections.map((c) => c.ready - c.opened));
  const top = [...kinds].sort((a, b) => b[1] - a[1]);
  console.log(
    `\n## ${contender}: ${String(count)} schemas x ${String(migrationCount)} migrations, ${ms(elapsed)} through the proxy\n`,
  );
  console.log(
    table(
      ['per target', 'value'],
      [
        ['connections', fixed(connections.length / count)],
        ['round trips (ReadyForQuery after the first)', fixed(roundTrips / count, 1)],
        ['statements sent (Query or Parse)', fixed(statements / count, 1)],
        ['connection setup, median (ms)', fixed(setup)],
      ],
    ),
  );
  console.log(
    `\n${table(
      ['statement (folded)', 'per target'],
      top
        .slice(0, 25)
        .map(([kind, n]) => [`\`${kind.replace(/\|/g, '\\|')}\``, fixed(n / count, 2)]),
    )}`,
  );
  return {
    elapsed,
    connections: connections.length,
    roundTrips,
    statements,
    setup,
    kinds: Object.fromEntries(top),
  };
}

await main();
