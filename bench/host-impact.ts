/**
 * The host-impact benchmark (issue 4). Run: `./dev node bench/host-impact.ts [--quick] [--reps N]`.
 *
 * Part 1, host impact: a node:http server (bench/host-impact-server.ts) under constant load from
 * a separate process (bench/host-impact-load.ts, autocannon) migrates the generated workload
 * (bench/workload.ts: 300 migrations with JavaScript data migrations that burn ~200 ms of CPU
 * each) with offloop, with the same engine on the server's own thread, with node-pg-migrate, or
 * not at all (idle). Reported: the server's event-loop delay (perf_hooks) and the HTTP latency
 * seen by the load generator, both over exactly the window in which the migration ran.
 *
 * Part 2, throughput: time to apply the SQL-only workload with offloop, node-pg-migrate and
 * psql (`psql -1 -f` per file: the floor; and one psql session with one transaction per file).
 *
 * Tools alternate within the run (A B C D, then B C D A, ...) and ratios are taken per round,
 * then their median: these machines drift by a third between runs. Each measured run gets a
 * fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { createMigrator } from '@offloop/worker';
import { toNodePgMigrate, toPsql } from './host-impact-adapters.ts';
import { median, rotate } from './stats.ts';
import { generateWorkload } from './workload.ts';

const run = promisify(execFile);
const here = import.meta.dirname;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    'throughput-reps': { type: 'string' },
    rate: { type: 'string', default: '500' },
    only: { type: 'string' },
  },
});
const quick = flags.quick;
const admin = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const impactReps = Number(flags.reps ?? (quick ? 1 : 3));
const throughputReps = Number(flags['throughput-reps'] ?? (quick ? 1 : 5));
const workloadOptions = quick
  ? { migrations: 40, jsMigrations: 3, cpuMsPerJsMigration: 200, backfillRows: 2_000 }
  : { migrations: 300, jsMigrations: 10, cpuMsPerJsMigration: 200, backfillRows: 50_000 };

type Stats = { p50: number; p99: number; max: number };
type ImpactMode =
  'idle' | 'offloop' | 'offloop-nice0' | 'cli-process' | 'in-thread' | 'node-pg-migrate';
type ImpactResult = {
  mode: ImpactMode;
  loop: Stats;
  http: Stats & { count: number; errors: number };
  durationMs: number;
  utilization: number;
  hostCpuMs: number;
  applied: number;
};
type ApplyTool = 'offloop' | 'node-pg-migrate' | 'psql -1 -f' | 'psql session';

let databaseCounter = 0;
async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `offloop_bench_${process.pid}_${++databaseCounter}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    try {
      return await fn(url.toString());
    } finally {
      await client.query(`drop database if exists ${name} with (force)`);
    }
  } finally {
    await client.end();
  }
}

function message<T>(
  child: ChildProcess,
  predicate: (value: Record<string, unknown>) => boolean,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (value: unknown) => {
      if (
        typeof value === 'object' &&
        value !== null &&
        predicate(value as Record<string, unknown>)
      ) {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(value as T);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`child exited (${String(code)}) before answering`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function impactRun(
  mode: ImpactMode,
  dirs: { offloop: string; npm: string },
  idleMs: number,
): Promise<ImpactResult> {
  return withDatabase(async (url) => {
    const dir = mode === 'node-pg-migrate' ? dirs.npm : dirs.offloop;
    const server = fork(
      path.join(here, 'host-impact-server.ts'),
      [mode, url, dir, String(idleMs)],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    try {
      const { port } = await message<{ port: number }>(server, (m) => 'port' in m);
      const load = fork(
        path.join(here, 'host-impact-load.ts'),
        [`http://127.0.0.1:${port}/`, flags.rate, '10'],
        { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      try {
        await message(load, (m) => 'ready' in m);
        await new Promise((resolve) => setTimeout(resolve, 1_500)); // warm up: connections, JIT
        load.send({ mark: 'start' });
        server.send('run');
        const result = await message<{
          loop: Stats;
          durationMs: number;
          utilization: number;
          hostCpuMs: number;
          applied: number;
          error: string | null;
        }>(server, (m) => 'loop' in m);
        load.send({ mark: 'stop' });
        if (result.error !== null) throw new Error(`${mode}: ${result.error}`);
        load.send({ report: true });
        const http = await message<Stats & { count: number; errors: number }>(
          load,
          (m) => 'p99' in m,
        );
        return {
          mode,
          loop: result.loop,
          http,
          durationMs: result.durationMs,
          utilization: result.utilization,
          hostCpuMs: result.hostCpuMs,
          applied: result.applied,
        };
      } finally {
        load.kill();
      }
    } finally {
      server.disconnect();
      await once(server, 'exit').catch(() => undefined);
    }
  });
}

async function applyRun(
  tool: ApplyTool,
  dirs: { offloop: string; npm: string; psqlFiles: string[]; psqlScript: string },
): Promise<number> {
  return withDatabase(async (url) => {
    const started = performance.now();
    switch (tool) {
      case 'offloop': {
        await using migrator = createMigrator({ url, dir: dirs.offloop });
        await migrator.up();
        break;
      }
      case 'node-pg-migrate': {
        const { runner } = await import('node-pg-migrate');
        const silent = {
          debug: () => undefined,
          info: () => undefined,
          warn: () => undefined,
          error: () => undefined,
          log: () => undefined,
        };
        await runner({
          databaseUrl: url,
          dir: dirs.npm,
          direction: 'up',
          migrationsTable: 'pgmigrations',
          count: Infinity,
          logger: silent,
          checkOrder: false,
        });
        break;
      }
      case 'psql -1 -f':
        for (const file of dirs.psqlFiles)
          await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', '-f', file, url]);
        break;
      case 'psql session':
        await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', dirs.psqlScript, url]);
        break;
    }
    return Math.round(performance.now() - started);
  });
}

const fmt = (value: number) =>
  Number.isFinite(value) ? value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2) : 'n/a';

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'offloop-bench-'));
  try {
    const full = path.join(work, 'workload');
    const sqlOnly = path.join(work, 'workload-sql');
    const summary = await generateWorkload(full, workloadOptions);
    await generateWorkload(sqlOnly, { ...workloadOptions, jsMigrations: 0 });
    const dirs = { offloop: full, npm: path.join(work, 'npm') };
    await toNodePgMigrate(full, dirs.npm);
    const sqlDirs = {
      offloop: sqlOnly,
      npm: path.join(work, 'npm-sql'),
      psqlFiles: await toPsql(sqlOnly, path.join(work, 'psql')),
      psqlScript: path.join(work, 'psql-session.sql'),
    };
    await toNodePgMigrate(sqlOnly, sqlDirs.npm);
    await writeFile(
      sqlDirs.psqlScript,
      sqlDirs.psqlFiles.map((file) => `begin;\n\\i '${file}'\ncommit;\n`).join(''),
    );
    const { stdout: serverVersion } = await run('psql', [
      '-X',
      '-At',
      '-c',
      'show server_version',
      admin,
    ]);
    console.log(`# offloop host-impact benchmark${quick ? ' (--quick)' : ''}`);
    console.log(
      `workload: ${summary.files.length} migrations ${JSON.stringify(summary.kinds)}, ${summary.rows} rows; ${workloadOptions.cpuMsPerJsMigration} ms CPU per JS migration`,
    );
    console.log(
      `machine: ${os.cpus().length} CPUs, Node ${process.version}, PostgreSQL ${serverVersion.trim()}; load ${flags.rate} req/s over 10 connections\n`,
    );

    const only = flags.only;
    if (only === undefined || only === 'impact') {
      const modes: ImpactMode[] = [
        'idle',
        'offloop',
        'offloop-nice0',
        'cli-process',
        'in-thread',
        'node-pg-migrate',
      ];
      const results: ImpactResult[] = [];
      let idleMs = quick ? 3_000 : 10_000;
      for (let rep = 0; rep < impactReps; rep += 1) {
        for (const mode of rotate(modes, rep)) {
          const result = await impactRun(mode, dirs, idleMs);
          if (mode === 'offloop') idleMs = Math.max(3_000, result.durationMs);
          results.push(result);
          console.error(
            `[impact ${rep + 1}/${impactReps}] ${mode}: loop p99 ${fmt(result.loop.p99)} ms max ${fmt(result.loop.max)} ms, http p99 ${fmt(result.http.p99)} ms (${result.http.count} responses, ${result.http.errors} errors), ${result.durationMs} ms, loop utilisation ${fmt(result.utilization * 100)}%, host thread CPU ${result.hostCpuMs} ms, ${result.applied} applied`,
          );
        }
      }
      const rows = modes.map((mode) => {
        const of = results.filter((r) => r.mode === mode);
        return {
          mode,
          loop: {
            p50: median(of.map((r) => r.loop.p50)),
            p99: median(of.map((r) => r.loop.p99)),
            max: median(of.map((r) => r.loop.max)),
          },
          http: {
            p50: median(of.map((r) => r.http.p50)),
            p99: median(of.map((r) => r.http.p99)),
            max: median(of.map((r) => r.http.max)),
          },
          durationMs: median(of.map((r) => r.durationMs)),
          utilization: median(of.map((r) => r.utilization)),
          cpuPerRequest: median(of.map((r) => (r.hostCpuMs * 1000) / Math.max(1, r.http.count))),
        };
      });
      // Per round: offloop against the idle run of the same round.
      const rounds = Array.from({ length: impactReps }, (_, rep) =>
        results.slice(rep * modes.length, (rep + 1) * modes.length),
      );
      const against = (mode: ImpactMode) => ({
        loop: median(
          rounds.map(
            (round) =>
              (round.find((r) => r.mode === mode)?.loop.p99 ?? NaN) -
              (round.find((r) => r.mode === 'idle')?.loop.p99 ?? NaN),
          ),
        ),
        http: median(
          rounds.map(
            (round) =>
              (round.find((r) => r.mode === mode)?.http.p99 ?? NaN) /
              (round.find((r) => r.mode === 'idle')?.http.p99 ?? NaN),
          ),
        ),
      });
      console.log(
        `## Host impact (medians of ${impactReps} round${impactReps === 1 ? '' : 's'})\n`,
      );
      console.log(
        '| migration on the server | event-loop delay p50 / p99 / max (ms) | HTTP latency p50 / p99 / max (ms) | loop utilisation | host-thread CPU per request (µs) | migration time (s) |',
      );
      console.log('| --- | --- | --- | --- | --- | --- |');
      for (const row of rows) {
        console.log(
          `| ${row.mode === 'idle' ? 'none (idle)' : row.mode} | ${fmt(row.loop.p50)} / ${fmt(row.loop.p99)} / ${fmt(row.loop.max)} | ${fmt(row.http.p50)} / ${fmt(row.http.p99)} / ${fmt(row.http.max)} | ${fmt(row.utilization * 100)}% | ${fmt(row.cpuPerRequest)} | ${row.mode === 'idle' ? '-' : (row.durationMs / 1000).toFixed(1)} |`,
        );
      }
      for (const mode of ['offloop', 'offloop-nice0', 'cli-process'] as const) {
        const { loop, http } = against(mode);
        console.log(
          `${mode === 'offloop' ? '\n' : ''}${mode} vs idle, median per round: event-loop p99 ${loop >= 0 ? '+' : ''}${fmt(loop)} ms (target: within 2 ms), HTTP p99 x${fmt(http)} (target: within 1.2x)`,
        );
      }
      console.log('');
    }

    if (only === undefined || only === 'throughput') {
      const tools: ApplyTool[] = ['offloop', 'node-pg-migrate', 'psql -1 -f', 'psql session'];
      const times = new Map<ApplyTool, number[]>(tools.map((tool) => [tool, []]));
      const rounds: Map<ApplyTool, number>[] = [];
      for (let rep = 0; rep < throughputReps; rep += 1) {
        const round = new Map<ApplyTool, number>();
        for (const tool of rotate(tools, rep)) {
          const ms = await applyRun(tool, sqlDirs);
          round.set(tool, ms);
          times.get(tool)?.push(ms);
          console.error(`[apply ${rep + 1}/${throughputReps}] ${tool}: ${ms} ms`);
        }
        rounds.push(round);
      }
      const ratio = (a: ApplyTool, b: ApplyTool) =>
        median(rounds.map((round) => (round.get(a) ?? NaN) / (round.get(b) ?? NaN)));
      console.log(
        `## Apply time, SQL workload (${sqlDirs.psqlFiles.length} migrations; medians of ${throughputReps} round${throughputReps === 1 ? '' : 's'})\n`,
      );
      console.log('| tool | time (s) | offloop / tool, median of per-round ratios |');
      console.log('| --- | --- | --- |');
      for (const tool of tools) {
        console.log(
          `| ${tool} | ${(median(times.get(tool) ?? []) / 1000).toFixed(2)} | ${tool === 'offloop' ? '-' : `x${fmt(ratio('offloop', tool))}`} |`,
        );
      }
      console.log(
        `\ntargets: offloop / psql -1 -f <= 1.1 (x${fmt(ratio('offloop', 'psql -1 -f'))}); offloop / node-pg-migrate <= 1.0 (x${fmt(ratio('offloop', 'node-pg-migrate'))})`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
