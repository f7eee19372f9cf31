/**
 * Issue 14's cold start: what one call costs when there is nothing to do, offloop (packed and
 * installed with npm as a user installs it) against node-pg-migrate 9 and dbmate 2.36.
 *
 *   ./dev node bench/cold-start.ts [--rounds 15] [--library-runs 10] [--breakdown-runs 3]
 *                                  [--url postgres://...] [--json] [--check] [--against <checkout>]
 *
 * 1. **CLI, no-op, 3 migrations applied**: `offloop status` and `offloop up`, node-pg-migrate's
 *    `up`, dbmate's `up` (its platform binary, which its npm launcher would spawn), and `node -e 0`
 *    as the floor. Each tool has its own database; wall time per process from spawn to exit,
 *    interleaved rounds (rotated), medians.
 * 2. **Library**: a fresh Node process in the install imports `@offloop/worker`, then
 *    `createMigrator({ url, dir })`, a first `status()`, 10 more `status()` calls, `close()`;
 *    interleaved with processes that call `await migrator.warm()` before the first `status()`
 *    (a server that warms its migrator at boot), timed from the end of `warm()`.
 * 3. **Breakdown**: the same no-op calls once more per tool through {@link WireCounter} (a
 *    counting proxy: connections, queries, round trips) with {@link moduleTrace} (module files per
 *    thread), and `offloop status`'s time split into phases by those timestamps.
 *
 * `--check` asserts issue 14's Done-when items this measures: `offloop status` under 100 ms and
 * below node-pg-migrate's `up`; the library's first `status()` under 60 ms after the import, and
 * after `warm()`; later calls under 20 ms. `--statements` lists what each traced call sent, per connection, in order
 * (`Q:` a simple-protocol query, `P:` an extended-protocol statement). `--against <checkout>` packs and installs another offloop checkout too (it
 * must pack the same way) and adds its `status` as a row: a change against the commit before it.
 * `--keep` leaves the work directory (install, migrations, traces); `--installed <dir>` reuses
 * the `project` directory of a kept run instead of packing again (for work on the bench itself;
 * never for published numbers, it may be stale).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  adminUrl,
  Checks,
  cleanEnv,
  Databases,
  machine,
  formatOf,
  installedAt,
  installPeers,
  interleave,
  itemsApplied,
  medians,
  ms,
  ok,
  removeWorkDir,
  run,
  runIn,
  table,
  tinyMigrations,
  toolCommand,
  TOOLS,
  workDir,
  writeMigrations,
  type Command,
  type Install,
  type Tool,
} from './peers.ts';
import { median } from './stats.ts';
import {
  byPackage,
  moduleTrace,
  now,
  readTraces,
  wireTotals,
  WireCounter,
  type ThreadTrace,
} from './trace.ts';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    'library-runs': { type: 'string', default: '10' },
    'breakdown-runs': { type: 'string', default: '3' },
    url: { type: 'string' },
    json: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    against: { type: 'string' },
    keep: { type: 'boolean', default: false },
    installed: { type: 'string' },
    statements: { type: 'boolean', default: false },
  },
});
const rounds = Number(flags.rounds);
const libraryRuns = Number(flags['library-runs']);
const breakdownRuns = Number(flags['breakdown-runs']);
const admin = adminUrl(flags.url);
const MIGRATIONS = 3;

/** A row of the CLI table: what it runs. */
type CliRow =
  | 'offloop status'
  | 'offloop up'
  | 'node-pg-migrate up'
  | 'dbmate up'
  | 'node -e 0'
  | 'offloop status (against)';

/** The library probe, written into the install as an ES module (the project is CommonJS). */
const PROBE = `const started = performance.now();
const { createMigrator } = await import('@offloop/worker');
const imported = performance.now();
let from = imported;
const events = [];
const onProgress = (event) => events.push([event.type, performance.now() - from]);
const migrator = createMigrator({ url: process.env.BENCH_URL, dir: process.env.BENCH_DIR });
const created = performance.now();
// BENCH_WARM=1: a server that warms its migrator at boot; the first status() is timed from then.
if (process.env.BENCH_WARM === '1') await migrator.warm();
const warmed = performance.now();
if (process.env.BENCH_WARM === '1') from = warmed;
const status = await migrator.status({ onProgress });
const first = performance.now() - from;
if (status.applied.length !== ${String(MIGRATIONS)} || status.pending.length !== 0)
  throw new Error('unexpected status: ' + JSON.stringify(status));
const later = [];
for (let i = 0; i < 10; i += 1) {
  const at = performance.now();
  await migrator.status();
  later.push(performance.now() - at);
}
const closing = performance.now();
await migrator.close();
const closed = performance.now();
console.log(JSON.stringify({
  processStart: started, import: imported - started, create: created - imported,
  warm: warmed - created, first, later,
  close: closed - closing, events,
}));
`;

type ProbeResult = {
  processStart: number;
  import: number;
  create: number;
  warm: number;
  first: number;
  later: number[];
  close: number;
  events: [string, number][];
};

async function main(): Promise<void> {
  const work = await workDir('offloop-cold-start');
  const databases = new Databases(admin, 'bench_cold');
  try {
    const before = await machine(admin);
    console.error(`# installing offloop (packed) and the peers in ${work}`);
    const install =
      flags.installed === undefined
        ? await installPeers(path.join(work, 'this'))
        : installedAt(flags.installed);
    const against =
      flags.against === undefined
        ? undefined
        : await installPeers(path.join(work, 'against'), path.resolve(flags.against));

    // A database per tool, the 3 migrations applied by it (offloop's status and up share one).
    const urls = {} as Record<Tool | 'against', string>;
    const dirs = {} as Record<Tool, string>;
    for (const tool of TOOLS) {
      dirs[tool] = path.join(work, 'migrations', tool);
      await writeMigrations(dirs[tool], formatOf(tool), tinyMigrations(MIGRATIONS));
      urls[tool] = await databases.create(tool);
      await runIn(install, toolCommand(install, tool, urls[tool], dirs[tool]), `${tool} up`);
      if (!(await itemsApplied(urls[tool], tool, MIGRATIONS)))
        throw new Error(`${tool} did not apply the ${String(MIGRATIONS)} migrations`);
    }
    if (against !== undefined) {
      urls.against = await databases.create('against');
      await runIn(
        against,
        toolCommand(against, 'offloop', urls.against, dirs.offloop),
        'offloop up (against)',
      );
    }

    const commands: Partial<Record<CliRow, [Install, Command]>> = {
      'offloop status': [
        install,
        toolCommand(install, 'offloop', urls.offloop, dirs.offloop, 'status'),
      ],
      'offloop up': [install, toolCommand(install, 'offloop', urls.offloop, dirs.offloop)],
      'node-pg-migrate up': [
        install,
        toolCommand(install, 'node-pg-migrate', urls['node-pg-migrate'], dirs['node-pg-migrate']),
      ],
      'dbmate up': [install, toolCommand(install, 'dbmate', urls.dbmate, dirs.dbmate)],
      'node -e 0': [install, { command: process.execPath, args: ['-e', '0'] }],
    };
    if (against !== undefined)
      commands['offloop status (against)'] = [
        against,
        toolCommand(against, 'offloop', urls.against, dirs.offloop, 'status'),
      ];
    const rows = Object.keys(commands) as CliRow[];
    const timeOnce = async (row: CliRow): Promise<number> => {
      const [where, command] = commands[row] ?? [];
      if (where === undefined || command === undefined) throw new Error(row);
      return (await runIn(where, command, row)).ms;
    };
    for (const row of rows) await timeOnce(row); // compile caches, the server's catalog caches
    console.error(`# CLI: ${String(rounds)} interleaved rounds`);
    const cli = medians(await interleave(rounds, rows, timeOnce));
    for (const tool of TOOLS)
      if (!(await itemsApplied(urls[tool], tool, MIGRATIONS)))
        throw new Error(`${tool}: the version table changed during the no-op rounds`);

    console.error(`# library: ${String(libraryRuns)} processes`);
    const library = await libraryProbe(install, urls.offloop, dirs.offloop);

    console.error(`# breakdown: ${String(breakdownRuns)} traced runs per tool`);
    const breakdown = await breakdownOf(install, work, urls, dirs);

    console.log(`# before: ${before}\n# after:  ${await machine(admin)}`);
    report(cli, library, breakdown);
    if (flags.json)
      console.log(JSON.stringify({ bench: 'cold-start', rounds, cli, library, breakdown }));
    if (flags.check) {
      const checks = new Checks();
      const status = cli['offloop status'];
      const peer = cli['node-pg-migrate up'];
      checks.check('offloop status under 100 ms', status < 100, ms(status));
      checks.check(
        "offloop status below node-pg-migrate's up",
        status < peer,
        `${ms(status)} against ${ms(peer)}`,
      );
      checks.check(
        'library: first status() under 60 ms after the import',
        library.cold.first < 60,
        ms(library.cold.first),
      );
      checks.check(
        'library: first status() under 60 ms after warm() (a server that warms at boot)',
        library.warm.first < 60,
        `${ms(library.warm.first)}, warm() ${ms(library.warm.warm)}`,
      );
      checks.check(
        'library: later status() calls under 20 ms',
        library.cold.later < 20,
        `median ${ms(library.cold.later)}, slowest ${ms(library.cold.laterMax)}`,
      );
      checks.finish();
    }
  } finally {
    await databases.dropAll();
    if (flags.keep) console.error(`# kept ${work}`);
    else await removeWorkDir(work);
  }
}

type Library = {
  import: number;
  create: number;
  /** `warm()`'s time (0 in a process that does not call it). */
  warm: number;
  first: number;
  later: number;
  laterMax: number;
  close: number;
  /** Median time of each progress event of the first status(), from the import's end. */
  events: Record<string, number>;
};

async function libraryProbe(
  install: Install,
  url: string,
  dir: string,
): Promise<Record<'cold' | 'warm', Library>> {
  const probe = path.join(install.dir, 'bench-probe.mjs');
  await writeFile(probe, PROBE);
  const results: Record<'cold' | 'warm', ProbeResult[]> = { cold: [], warm: [] };
  // Interleaved: a process as a script uses the library, then one that warms it first.
  for (let i = 0; i <= libraryRuns; i += 1) {
    for (const mode of ['cold', 'warm'] as const) {
      const result = ok(
        await run(process.execPath, [probe], {
          cwd: install.dir,
          env: cleanEnv({
            BENCH_URL: url,
            BENCH_DIR: dir,
            BENCH_WARM: mode === 'warm' ? '1' : '0',
          }),
        }),
        'library probe',
      );
      if (i > 0) results[mode].push(JSON.parse(result.stdout) as ProbeResult); // the first fills caches
    }
  }
  return { cold: summarize(results.cold), warm: summarize(results.warm) };
}

function summarize(results: ProbeResult[]): Library {
  const pick = (f: (r: ProbeResult) => number) => median(results.map(f));
  const events: Record<string, number[]> = {};
  for (const result of results)
    for (const [type, at] of result.events) (events[type] ??= []).push(at);
  return {
    import: pick((r) => r.import),
    create: pick((r) => r.create),
    warm: pick((r) => r.warm),
    first: pick((r) => r.first),
    later: pick((r) => median(r.later)),
    laterMax: Math.max(...results.flatMap((r) => r.later)),
    close: pick((r) => r.close),
    events: Object.fromEntries(Object.entries(events).map(([type, at]) => [type, median(at)])),
  };
}

/** One traced run of a tool: what went over the wire and which modules each thread loaded. */
type Traced = {
  wall: number;
  connections: number;
  queries: number;
  executes: number;
  roundTrips: number;
  discardAll: number;
  mainModules: number;
  threadModules: number;
  mainPackages: [string, number][];
  threadPackages: [string, number][];
  phases: Record<string, number>;
  /** What each connection sent (Query and Parse texts, in order, shortened; the first run's). */
  statements: string[][];
};

type Breakdown = Record<string, Traced>;

async function breakdownOf(
  install: Install,
  work: string,
  urls: Record<Tool, string>,
  dirs: Record<Tool, string>,
): Promise<Breakdown> {
  const proxy = await WireCounter.start(admin);
  try {
    const rows: [string, Tool, 'up' | 'status'][] = [
      ['offloop status', 'offloop', 'status'],
      ['offloop up', 'offloop', 'up'],
      ['node-pg-migrate up', 'node-pg-migrate', 'up'],
      ['dbmate up', 'dbmate', 'up'],
    ];
    const runs: Record<string, Traced[]> = {};
    for (let i = 0; i < breakdownRuns; i += 1) {
      for (const [row, tool, op] of rows) {
        const traceDir = path.join(work, 'traces', `${String(i)}-${tool}-${op}`);
        await mkdir(traceDir, { recursive: true });
        const command = toolCommand(install, tool, proxy.url(urls[tool]), dirs[tool], op);
        const node = command.command === process.execPath;
        proxy.reset();
        const spawned = now();
        const result = await run(
          command.command,
          node ? ['--import', moduleTrace(traceDir), ...command.args] : command.args,
          { cwd: install.dir, env: cleanEnv(command.env) },
        );
        const exited = spawned + result.ms;
        ok(result, `${row} (traced)`);
        await proxy.idle();
        (runs[row] ??= []).push(
          traced(spawned, exited, proxy.connections, node ? await readTraces(traceDir) : []),
        );
      }
    }
    return Object.fromEntries(
      Object.entries(runs).map(([row, samples]) => [row, medianTraced(samples)]),
    );
  } finally {
    await proxy.close();
  }
}

function traced(
  spawned: number,
  exited: number,
  connections: WireCounter['connections'],
  threads: ThreadTrace[],
): Traced {
  const main = threads.find((thread) => thread.threadId === 0);
  const worker = threads.find((thread) => thread.threadId !== 0 && thread.loads.length > 0);
  const opened = Math.min(...connections.map((c) => c.opened));
  const ready = connections.find((c) => c.opened === opened)?.ready ?? NaN;
  const lastReady = Math.max(...connections.map((c) => c.lastReady));
  const phases: Record<string, number> = {};
  const mainFirst = main?.loads[0]?.at;
  const created = main?.workers[0];
  const workerFirst = worker?.loads[0]?.at;
  if (mainFirst !== undefined && created !== undefined && workerFirst !== undefined) {
    phases['Node start (spawn to the first module file)'] = mainFirst - spawned;
    phases['main thread: CLI and host modules, config, createMigrator'] = created - mainFirst;
    phases['thread start (Worker created to its first module file)'] = workerFirst - created;
    phases["thread: engine's modules, file discovery, until the first connection"] =
      opened - workerFirst;
    phases['connect (first connection until ready)'] = ready - opened;
    phases['queries (until the last ReadyForQuery)'] = lastReady - ready;
    phases['teardown (pool end, thread end, exit)'] = exited - lastReady;
    phases['thread: module files loaded after the first connection'] = (worker?.loads ?? []).filter(
      (load) => load.at > opened,
    ).length;
  }
  return {
    wall: exited - spawned,
    ...wireTotals(connections),
    mainModules: main?.loads.length ?? NaN,
    threadModules: threads
      .filter((thread) => thread.threadId !== 0)
      .reduce((sum, thread) => sum + thread.loads.length, 0),
    mainPackages: byPackage(main?.loads ?? []),
    threadPackages: byPackage(threads.filter((t) => t.threadId !== 0).flatMap((t) => t.loads)),
    phases,
    statements: connections.map((connection) =>
      connection.sent.map((text) => text.replace(/\s+/g, ' ').trim().slice(0, 100)),
    ),
  };
}

/** Medians of the numbers; the module lists of the first run (they do not vary). */
function medianTraced(samples: readonly Traced[]): Traced {
  const first = samples[0];
  if (first === undefined) throw new Error('no traced runs');
  const pick = (f: (t: Traced) => number) => median(samples.map(f));
  return {
    wall: pick((t) => t.wall),
    connections: pick((t) => t.connections),
    queries: pick((t) => t.queries),
    executes: pick((t) => t.executes),
    roundTrips: pick((t) => t.roundTrips),
    discardAll: pick((t) => t.discardAll),
    mainModules: pick((t) => t.mainModules),
    threadModules: pick((t) => t.threadModules),
    mainPackages: first.mainPackages,
    threadPackages: first.threadPackages,
    statements: first.statements,
    phases: Object.fromEntries(
      Object.keys(first.phases).map((phase) => [phase, pick((t) => t.phases[phase] ?? NaN)]),
    ),
  };
}

function report(
  cli: Record<CliRow, number>,
  library: Record<'cold' | 'warm', Library>,
  breakdown: Breakdown,
): void {
  const top = (packages: [string, number][]) =>
    packages
      .slice(0, 6)
      .map(([name, count]) => `${name} ${String(count)}`)
      .join(', ');
  console.log(
    `\n## No-op CLI call, ${String(MIGRATIONS)} migrations applied (medians of ${String(rounds)} interleaved rounds)\n`,
  );
  console.log(
    table(
      [
        'call',
        'wall time',
        'connections',
        'queries / executes',
        'round trips',
        'module files (main + thread)',
      ],
      (Object.keys(cli) as CliRow[]).map((row) => {
        const t = breakdown[row];
        return [
          row,
          ms(cli[row]),
          t === undefined ? '-' : String(t.connections),
          t === undefined ? '-' : `${String(t.queries)} / ${String(t.executes)}`,
          t === undefined ? '-' : String(t.roundTrips),
          t === undefined || Number.isNaN(t.mainModules)
            ? '-'
            : `${String(t.mainModules)} + ${String(t.threadModules)}`,
        ];
      }),
    ),
  );
  console.log(
    '\nConnections, queries (simple-protocol Query messages) / executes (extended-protocol ' +
      'Execute messages) and round trips (ReadyForQuery cycles after the connection was ready) ' +
      'counted by a proxy on the wire; module files by a load hook in every thread.',
  );
  for (const [row, t] of Object.entries(breakdown)) {
    if (t.discardAll > 0) console.log(`- ${row}: ${String(t.discardAll)} DISCARD ALL`);
    if (t.mainPackages.length > 0) console.log(`- ${row}, main thread: ${top(t.mainPackages)}`);
    if (t.threadPackages.length > 0)
      console.log(`- ${row}, worker thread: ${top(t.threadPackages)}`);
  }
  if (flags.statements)
    for (const [row, t] of Object.entries(breakdown)) {
      console.log(`\n### What \`${row}\` sent\n`);
      t.statements.forEach((sent, i) => {
        console.log(`connection ${String(i + 1)}:`);
        for (const text of sent) console.log(`    ${text}`);
      });
    }
  const status = breakdown['offloop status'];
  if (status !== undefined && Object.keys(status.phases).length > 0) {
    console.log(
      `\n## Where \`offloop status\` goes (medians of ${String(breakdownRuns)} traced runs, ${ms(status.wall)} each with the tracing)\n`,
    );
    console.log(
      table(
        ['phase', 'ms'],
        Object.entries(status.phases).map(([phase, value]) => [
          phase,
          phase.includes('files loaded') ? `${String(value)} files` : ms(value),
        ]),
      ),
    );
  }
  console.log(
    `\n## Library (medians of ${String(libraryRuns)} processes each, interleaved)\n\n` +
      'Cold: `createMigrator()`, then `status()` at once. Warm: `createMigrator()`, `await ' +
      'migrator.warm()` (a server at boot), then `status()`, timed from the end of `warm()`.\n\n' +
      table(
        ['step', 'cold', 'warm'],
        [
          ["import('@offloop/worker')", ms(library.cold.import), ms(library.warm.import)],
          ['createMigrator()', ms(library.cold.create), ms(library.warm.create)],
          ['warm()', '-', ms(library.warm.warm)],
          [
            'first status(), from the end of the import (cold) or of warm()',
            ms(library.cold.first),
            ms(library.warm.first),
          ],
          ...[
            ...new Set([...Object.keys(library.cold.events), ...Object.keys(library.warm.events)]),
          ].map((type) => [
            `- its ${type} event at`,
            library.cold.events[type] === undefined ? '-' : ms(library.cold.events[type]),
            library.warm.events[type] === undefined ? '-' : ms(library.warm.events[type]),
          ]),
          [
            'later status() calls (median; slowest of all)',
            `${ms(library.cold.later)}; ${ms(library.cold.laterMax)}`,
            `${ms(library.warm.later)}; ${ms(library.warm.laterMax)}`,
          ],
          ['close()', ms(library.cold.close), ms(library.warm.close)],
        ],
      ),
  );
}

await main();
