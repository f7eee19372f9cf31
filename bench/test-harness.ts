/**
 * Benchmark of the test harness (`@offloop/testing`): the time from asking for a fresh,
 * migrated database to holding it, per test, for the 300-migration workload of
 * `bench/workload.ts` (pure SQL, with 50,000-row backfills).
 *
 *   ./dev node bench/test-harness.ts [--files 5] [--tests 10] [--test-ms 200] [--pool 50] [--migrate-samples 3] [--migrations 300]
 *   ./dev node bench/test-harness.ts --quick   # smoke run: 3 files x 5 tests, 100 migrations, 1 migrate sample
 *
 * Two numbers per suite, because they are paid at different times:
 * - per test, asking to holding: `acquire()` in a test until it resolves, with the harness set
 *   up in `test.before(() => databases.ready())` as docs/testing.md recommends;
 * - per file, setup: `createTestDatabases()` at the top of the file until `ready()` resolves (the
 *   harness's worker thread, its imports, connections, the template key).
 *
 * Three ways to get a database per test:
 * - `pool, cold start`: the harness with `--pool` ready clones, starting with none ready (the
 *   first run after the migrations changed).
 * - `pool, warm start`: the same, starting with the pool that the previous run left (the usual run).
 * - `pool, warm start, no ready()`: the same without the `test.before` hook, so a file's tests
 *   all ask while its harness is still starting (the wait is the file's setup).
 * - `CREATE DATABASE per test`: the harness with `poolSize: 0`, a plain `CREATE DATABASE ...
 *   TEMPLATE ... STRATEGY FILE_COPY` per test.
 * - `default pool, run 1` and `run 2`: the default `poolSize` (4, plus what the harness learnt
 *   from the runs above), starting with no clone ready, then with what run 1 left.
 * - `migrate`: an empty database per test and every migration run into it (a few samples only:
 *   it takes seconds each).
 *
 * `pool` and `clone` run a real ava suite: `--files` test files of `--tests` tests each, every
 * test holding its database for `--test-ms`, at ava's default concurrency (files in parallel
 * worker threads, one per CPU; a file's tests at once). The server is a throwaway embedded
 * PostgreSQL unless BENCH_DATABASE_URL names one. Results go to stdout as a table.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../packages/embedded-postgres/src/index.ts';
import { createMigrator } from '../packages/worker/src/index.ts';
import { createTestDatabases } from '../packages/testing/src/index.ts';
import { generateWorkload } from './workload.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '5' },
    tests: { type: 'string', default: '10' },
    'test-ms': { type: 'string', default: '200' },
    pool: { type: 'string', default: '50' },
    'migrate-samples': { type: 'string', default: '3' },
    migrations: { type: 'string', default: '300' },
    quick: { type: 'boolean', default: false },
  },
});
if (args.quick)
  Object.assign(args, {
    files: '3',
    tests: '5',
    'migrate-samples': '1',
    migrations: '100',
    pool: '15',
  });
const files = Number(args.files);
const testsPerFile = Number(args.tests);
const testMs = Number(args['test-ms']);
const poolSize = Number(args.pool);
const migrateSamples = Number(args['migrate-samples']);
const migrations = Number(args.migrations);

type Sample = { ms: number; fromPool: boolean };
type FileStats = { created: number; createMs: number; fromPool: number; acquired: number };
type Result = {
  name: string;
  samples: number[];
  setups: number[];
  fromPool: number;
  wallMs: number;
  created: number;
  createMs: number;
};

const work = await mkdtemp(path.join(os.tmpdir(), 'offloop-bench-harness-'));
await chmod(work, 0o755);
let embedded: EmbeddedPostgres | undefined;
try {
  let url = process.env['BENCH_DATABASE_URL'];
  if (url === undefined || url === '') {
    embedded = await startEmbeddedPostgres({ dataDir: path.join(work, 'pg'), persistent: false });
    url = embedded.url;
  }
  const server =
    embedded === undefined
      ? `BENCH_DATABASE_URL`
      : `embedded PostgreSQL ${embedded.version} (throwaway, fsync off)`;
  const dir = path.join(work, 'migrations');
  const workload = await generateWorkload(dir, {
    migrations,
    jsMigrations: 0,
    backfillRows: 50_000,
  });
  console.log(
    `workload: ${String(workload.files.length)} SQL migrations, ${String(workload.tables)} tables, ${String(workload.rows)} rows; server: ${server}; ${String(os.availableParallelism())} CPUs`,
  );

  // Build the template once, outside the measurements (every later run reuses it).
  const builder = createTestDatabases({ url, dir, poolSize: 0 });
  const template = await builder.template();
  await builder.close();
  const size = await withAdmin(
    url,
    async (client) =>
      (
        await client.query<{ size: string }>(
          'select pg_size_pretty(pg_database_size($1)) as size',
          [template.name],
        )
      ).rows[0]?.size,
  );
  console.log(
    `template ${template.name}: built in ${(template.durationMs / 1000).toFixed(1)} s, ${size ?? '?'}`,
  );

  const results: Result[] = [];
  await dropReady(url);
  results.push(await runSuite(`pool ${String(poolSize)}, cold start`, url, dir, poolSize));
  // The usual re-run: the previous run left the pool full (migrations unchanged).
  await waitForReady(url, poolSize);
  results.push(await runSuite(`pool ${String(poolSize)}, warm start`, url, dir, poolSize));
  await waitForReady(url, poolSize);
  results.push(
    await runSuite(`pool ${String(poolSize)}, warm start, no ready()`, url, dir, poolSize, false),
  );
  await dropReady(url);
  results.push(await runSuite('CREATE DATABASE per test', url, dir, 0));
  // The default pool size, with the peaks the runs above remembered on the template: the first
  // run finds no clone ready (the one above used none), the second finds what the first left.
  results.push(await runSuite('default pool, run 1 (none ready)', url, dir, undefined));
  results.push(await runSuite('default pool, run 2', url, dir, undefined));
  results.push(await migratePerTest(url, dir));
  printTable(results);
} finally {
  await embedded?.stop();
  await rm(work, { recursive: true, force: true });
}

/** Run the ava suite once with the given pool size and collect every test's time to a database. */
async function runSuite(
  name: string,
  url: string,
  dir: string,
  size: number | undefined,
  setup = true,
): Promise<Result> {
  const suite = path.join(root, 'bench', 'results', 'harness-suite');
  await rm(suite, { recursive: true, force: true });
  await mkdir(suite, { recursive: true });
  const out = path.join(suite, 'samples.jsonl');
  await writeFile(
    path.join(suite, 'package.json'),
    JSON.stringify({ name: 'harness-suite', private: true, type: 'module' }),
  );
  await writeFile(
    path.join(suite, 'ava.config.js'),
    `export default { files: ['*.test.ts'], extensions: { ts: 'module' }, timeout: '5m' };\n`,
  );
  const harness = path.relative(suite, path.join(root, 'packages/testing/src/index.ts'));
  for (let file = 0; file < files; file += 1) {
    await writeFile(
      path.join(suite, `file-${String(file)}.test.ts`),
      `import test from 'ava';
import { appendFileSync } from 'node:fs';
import { createTestDatabases } from '${harness}';

const created = performance.now();
const databases = createTestDatabases({ dir: ${JSON.stringify(dir)}${size === undefined ? '' : `, poolSize: ${String(size)}`} });
${
  setup
    ? `test.before(async () => {
  await databases.ready();
  appendFileSync(${JSON.stringify(out)}, JSON.stringify({ setupMs: performance.now() - created }) + '\\n');
});`
    : `databases.ready().then(() => appendFileSync(${JSON.stringify(out)}, JSON.stringify({ setupMs: performance.now() - created }) + '\\n'), () => undefined);`
}
test.after.always(async () => {
  const stats = await databases.stats();
  appendFileSync(${JSON.stringify(out)}, JSON.stringify({ stats }) + '\\n');
  await databases.close();
});
for (let i = 0; i < ${String(testsPerFile)}; i += 1) {
  test('test ' + i, async (t) => {
    const asked = performance.now();
    const db = await databases.acquire();
    const ms = performance.now() - asked;
    t.teardown(() => db.release());
    appendFileSync(${JSON.stringify(out)}, JSON.stringify({ ms, fromPool: db.fromPool }) + '\\n');
    await new Promise((resolve) => setTimeout(resolve, ${String(testMs)}));
    t.pass();
  });
}
`,
    );
  }
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const ava = spawn(path.join(root, 'node_modules', '.bin', 'ava'), [], {
      cwd: suite,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        TEST_DATABASE_URL: url,
        PATH: [path.dirname(process.execPath), process.env['PATH'] ?? ''].join(path.delimiter),
      },
    });
    ava.once('error', reject);
    ava.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ava exited with ${String(code)}`)),
    );
  });
  const wallMs = performance.now() - started;
  const lines = (await readFile(out, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Sample | { stats: FileStats } | { setupMs: number });
  const samples = lines.filter((line): line is Sample => 'ms' in line);
  const setups = lines
    .filter((line): line is { setupMs: number } => 'setupMs' in line)
    .map((line) => line.setupMs);
  const stats = lines
    .filter((line): line is { stats: FileStats } => 'stats' in line)
    .map((line) => line.stats);
  await rm(suite, { recursive: true, force: true });
  return {
    name,
    samples: samples.map((sample) => sample.ms),
    setups,
    fromPool: samples.filter((sample) => sample.fromPool).length,
    wallMs,
    created: stats.reduce((sum, s) => sum + s.created, 0),
    createMs: stats.reduce((sum, s) => sum + s.createMs, 0),
  };
}

/** The baseline: an empty database per test, then every migration through the migrator. */
async function migratePerTest(url: string, dir: string): Promise<Result> {
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < migrateSamples; i += 1) {
    const name = `offloop_bench_migrate_${String(i)}`;
    const target = new URL(url);
    target.pathname = `/${name}`;
    const asked = performance.now();
    await withAdmin(url, (client) =>
      client.query(`create database ${client.escapeIdentifier(name)}`),
    );
    const migrator = createMigrator({ url: target.toString(), dir });
    try {
      await migrator.up();
    } finally {
      await migrator.close();
    }
    samples.push(performance.now() - asked);
    await withAdmin(url, (client) =>
      client.query(`drop database ${client.escapeIdentifier(name)} with (force)`),
    );
  }
  return {
    name: 'migrate per test',
    samples,
    setups: [],
    fromPool: 0,
    wallMs: performance.now() - started,
    created: samples.length,
    createMs: 0,
  };
}

/** Top the pool up (as a harness does in the background) before the warm run. */
async function waitForReady(url: string, size: number): Promise<void> {
  const filler = createTestDatabases({ url, dir: path.join(work, 'migrations'), poolSize: size });
  const db = await filler.acquire();
  await db.release();
  for (;;) {
    const count = await withAdmin(url, async (client) =>
      Number(
        (
          await client.query<{ n: string }>(
            `select count(*) as n from pg_database where starts_with(datname, 'offloop_r_')`,
          )
        ).rows[0]?.n,
      ),
    );
    if (count >= size) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await filler.close();
}

async function dropReady(url: string): Promise<void> {
  await withAdmin(url, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `select datname from pg_database where starts_with(datname, 'offloop_r_')`,
    );
    for (const { datname } of rows)
      await client.query(`drop database ${client.escapeIdentifier(datname)} with (force)`);
  });
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

function printTable(results: readonly Result[]): void {
  const ms = (value: number) =>
    Number.isNaN(value)
      ? '-'
      : value >= 10_000
        ? `${(value / 1000).toFixed(1)} s`
        : `${value.toFixed(1)} ms`;
  const spread = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length);
    return [
      String(sorted.length),
      ...[0, 0.5, 0.9, 0.95, 0.99, 1].map((q) =>
        ms(q === 0 ? (sorted[0] ?? Number.NaN) : quantile(sorted, q)),
      ),
      ms(sorted.length === 0 ? Number.NaN : mean),
    ];
  };
  const table = (header: readonly string[], rows: readonly (readonly string[])[]) => {
    const widths = header.map((title, column) =>
      Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
    );
    const line = (cells: readonly string[]) =>
      `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
    console.log('');
    console.log(line(header));
    console.log(`| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`);
    for (const row of rows) console.log(line(row));
    console.log('');
  };
  const stats = ['min', 'p50', 'p90', 'p95', 'p99', 'max', 'mean'];
  console.log('\nper test, asking to holding (acquire() until it resolves):');
  table(
    ['method', 'tests', ...stats, 'from pool', 'suite', 'clones/s'],
    results.map((result) => [
      result.name,
      ...spread(result.samples),
      result.name.startsWith('migrate')
        ? '-'
        : `${String(result.fromPool)}/${String(result.samples.length)}`,
      ms(result.wallMs),
      result.created > 0 ? (result.created / (result.wallMs / 1000)).toFixed(1) : '-',
    ]),
  );
  console.log(
    'per file, setup (createTestDatabases() at the top of the file until ready() resolves):',
  );
  table(
    ['method', 'files', ...stats],
    results
      .filter((result) => result.setups.length > 0)
      .map((result) => [result.name, ...spread(result.setups)]),
  );
  console.log(
    `${String(files)} ava files x ${String(testsPerFile)} tests of ${String(testMs)} ms at ava's default concurrency (${String(os.availableParallelism())} files at once, a file's tests at once); migrate per test: ${String(migrateSamples)} sequential samples`,
  );
  console.log('whole distributions, per test (ms, sorted):');
  for (const result of results)
    console.log(
      `  ${result.name}: ${[...result.samples]
        .sort((a, b) => a - b)
        .map((value) => value.toFixed(0))
        .join(' ')}`,
    );
  for (const result of results) {
    if (result.created > 0 && result.createMs > 0)
      console.log(
        `${result.name}: ${String(result.created)} clones created, ${(result.createMs / result.created).toFixed(0)} ms each in CREATE DATABASE`,
      );
  }
}
