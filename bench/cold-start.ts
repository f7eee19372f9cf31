/**
 * A CLI call that has nothing to do, timed against another checkout of offloop in the same run:
 * `offloop status` on `examples/migrations` (applied first), the two checkouts alternating, and
 * the modules each loads on its main thread. For comparing a change with the commit before it:
 *
 *   git worktree add /tmp/before <commit> && (cd /tmp/before && ./dev true)
 *   ./dev node bench/cold-start.ts --against /tmp/before [--rounds 15] [--url postgres://...]
 *
 * The database (default `BENCH_DATABASE_URL`, else `offloop_cold_start` on 127.0.0.1:5432) is
 * created if missing. Medians of wall time per process, spawn included.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: { against: { type: 'string' }, rounds: { type: 'string' }, url: { type: 'string' } },
});
if (flags.against === undefined) {
  throw new Error('--against <checkout> is required: the other offloop checkout to compare with');
}
const rounds = Number(flags.rounds ?? 15);
const url =
  flags.url ??
  process.env['BENCH_DATABASE_URL'] ??
  'postgres://postgres@127.0.0.1:5432/offloop_cold_start';
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const checkouts = { this: here, against: path.resolve(flags.against) };

/** A hook that counts the modules loaded on the main thread, printed on stderr at exit. */
const COUNT_MODULES =
  'data:text/javascript,' +
  encodeURIComponent(
    "import { registerHooks } from 'node:module'; const seen = new Set();" +
      'registerHooks({ load(url, context, next) { seen.add(url); return next(url, context); } });' +
      "process.on('exit', () => process.stderr.write(`modules: ${seen.size}\\n`));",
  );

function cli(checkout: string, args: readonly string[], countModules = false): number {
  const bin = path.join(checkout, 'packages/cli/src/bin.ts');
  const node = countModules ? ['--import', COUNT_MODULES] : [];
  const started = performance.now();
  const result = spawnSync(process.execPath, [...node, bin, ...args], {
    cwd: checkout,
    encoding: 'utf8',
  });
  const elapsed = performance.now() - started;
  if (result.status !== 0) {
    throw new Error(`offloop ${args.join(' ')} in ${checkout} failed:\n${result.stderr}`);
  }
  if (countModules) return Number(/modules: (\d+)/.exec(result.stderr)?.[1] ?? NaN);
  return elapsed;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}

const database = new URL(url);
const name = database.pathname.slice(1);
database.pathname = '/postgres';
try {
  execFileSync('psql', [database.href, '-qc', `create database "${name}"`], { stdio: 'ignore' });
} catch {
  // It exists already (or psql is missing: then `up` below says what is wrong).
}

const args = ['status', '--url', url, '--dir', 'examples/migrations'];
for (const checkout of Object.values(checkouts)) {
  cli(checkout, ['up', '--url', url, '--dir', 'examples/migrations']);
  cli(checkout, args); // fills the compile cache
}
const times: Record<keyof typeof checkouts, number[]> = { this: [], against: [] };
for (let round = 0; round < rounds; round++) {
  for (const key of ['this', 'against'] as const) times[key].push(cli(checkouts[key], args));
}
for (const key of ['this', 'against'] as const) {
  const modules = cli(checkouts[key], args, true);
  console.log(
    `${key.padEnd(8)} ${checkouts[key]}: status median ${median(times[key]).toFixed(0)} ms ` +
      `over ${rounds} rounds, ${modules} modules on the main thread`,
  );
}
