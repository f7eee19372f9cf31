/**
 * The server under load (a child of host-impact.ts): node:http answering a small JSON document,
 * with the event-loop delay recorded by perf_hooks while one migration runs in the mode given:
 *
 * - `offloop`: `createMigrator().up()`, the migration in a worker thread (at nice 10, the default);
 * - `offloop-nice0`: the same with `workerNice: 0`, the worker thread at the host's priority;
 * - `cli-process`: `offloop up` in a child process, as a deploy step beside the server would run
 *   it: the same work with no thread in the server at all (what the machine allows);
 * - `in-thread`: the same engine imported directly and run on this thread (the baseline);
 * - `node-pg-migrate`: its programmatic runner, on this thread, as applications use it;
 * - `idle`: no migration, for `IDLE_MS`.
 *
 * It prints `{"port": n}` when listening; on the IPC message `run` it migrates and replies with
 * `{ loop: {p50, p99, max}, durationMs, utilization, hostCpuMs, applied }`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const [mode, url, dir, idleMs] = process.argv.slice(2);
if (mode === undefined || url === undefined || dir === undefined)
  throw new Error('usage: host-impact-server.ts <mode> <url> <dir> [idleMs]');

const body = JSON.stringify({
  ok: true,
  items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item ${i}` })),
});
const server = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(body);
});
server.keepAliveTimeout = 60_000;

// Each tool is imported at startup, as a server would, not inside the measured window.
const tools = {
  offloop: mode === 'offloop' || mode === 'offloop-nice0' ? await import('@offloop/worker') : null,
  core: mode === 'in-thread' ? await import('@offloop/core') : null,
  engine: mode === 'in-thread' ? await import('@offloop/core/engine') : null,
  npm: mode === 'node-pg-migrate' ? await import('node-pg-migrate') : null,
};

async function migrate(): Promise<number> {
  switch (mode as string) {
    case 'offloop':
    case 'offloop-nice0': {
      const { createMigrator } = tools.offloop ?? (await import('@offloop/worker'));
      await using migrator = createMigrator({
        url: url ?? '',
        dir: dir ?? '',
        ...(mode === 'offloop-nice0' ? { workerNice: 0 } : {}),
      });
      return (await migrator.up()).applied.length;
    }
    case 'cli-process': {
      const bin = fileURLToPath(new URL('../packages/cli/src/bin.ts', import.meta.url));
      const child = spawn(
        process.execPath,
        [bin, 'up', '--url', url ?? '', '--dir', dir ?? '', '--json'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`offloop up exited with ${String(code)}`);
      const parsed = JSON.parse(output) as { applied?: unknown[] };
      return parsed.applied?.length ?? 0;
    }
    case 'in-thread': {
      const { parseConfig } = tools.core ?? (await import('@offloop/core'));
      const { up } = tools.engine ?? (await import('@offloop/core/engine'));
      return (await up(parseConfig({ url, dir }))).applied.length;
    }
    case 'node-pg-migrate': {
      const { runner } = tools.npm ?? (await import('node-pg-migrate'));
      const silent = {
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: () => undefined,
        log: () => undefined,
      };
      const done = await runner({
        databaseUrl: url ?? '',
        dir: dir ?? '',
        direction: 'up',
        migrationsTable: 'pgmigrations',
        count: Infinity,
        logger: silent,
        checkOrder: false,
      });
      return done.length;
    }
    case 'idle':
      await sleep(Number(idleMs ?? 10_000));
      return 0;
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

process.on('message', (message: unknown) => {
  if (message !== 'run') return;
  void (async () => {
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    const started = performance.now();
    const utilization = performance.eventLoopUtilization();
    // CPU time of this thread only (not the worker's): what the server's own loop spent.
    const cpu = process.threadCpuUsage();
    histogram.enable();
    let applied = 0;
    let error: string | null = null;
    try {
      applied = await migrate();
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    histogram.disable();
    // How busy the loop was (0..1): a delay with a low utilisation is the OS scheduling other
    // threads (CPU contention), not work on this loop.
    const busy = performance.eventLoopUtilization(utilization).utilization;
    const usage = process.threadCpuUsage(cpu);
    const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100;
    process.send?.({
      loop: {
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
      },
      durationMs: Math.round(performance.now() - started),
      utilization: Math.round(busy * 1000) / 1000,
      hostCpuMs: Math.round((usage.user + usage.system) / 1000),
      applied,
      error,
    });
  })();
});

process.on('disconnect', () => server.close(() => process.exit(0)));
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as { port: number }).port });
});
