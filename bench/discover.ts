/**
 * What file discovery costs at 50, 500 and 5,000 migrations: cold (every file read, hashed and
 * parsed, as without a cache), from the disk cache (a fresh process: an empty memory), and from a
 * thread's memory (a warm thread's next call). One interleaved run, medians in ms of wall time
 * and of CPU time (user + system: steadier than wall time on a shared machine). Also statting
 * 5,000 files one after the other (`statSync`) against 32 at a time (`fs.promises.stat`), which
 * is what the cache must do on every call.
 *
 *   ./dev node bench/discover.ts [--reps 21]
 *
 * The files are written, then left for longer than the cache's racy margin (2 s): a file changed
 * that recently is always read again.
 */
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { discoverMigrations } from '../packages/core/src/files/discover.ts';
import { FileCache, RACY_MARGIN_MS } from '../packages/core/src/files/file-cache.ts';
import { median, rotate } from './stats.ts';

const { values: flags } = parseArgs({ options: { reps: { type: 'string' } } });
const reps = Number(flags.reps ?? 21);
const sizes = [50, 500, 5000] as const;
const modes = ['cold', 'disk cache', 'memory'] as const;
type Mode = (typeof modes)[number];
type Sample = { readonly wall: number; readonly cpu: number };

const root = await mkdtemp(join(tmpdir(), 'offloop-bench-discover-'));
try {
  const dirs = new Map<number, string>();
  for (const size of sizes) dirs.set(size, await writeMigrations(join(root, String(size)), size));
  await sleep(RACY_MARGIN_MS + 500);

  const cacheDir = join(root, 'cache');
  const memory = new FileCache({ dir: cacheDir });
  // Fill the disk cache and the warm memory once.
  for (const dir of dirs.values()) await discoverMigrations(dir, { cache: memory });

  const run = async (size: number, mode: Mode): Promise<Sample> => {
    const dir = dirs.get(size) ?? '';
    const cache =
      mode === 'cold' ? null : mode === 'memory' ? memory : new FileCache({ dir: cacheDir });
    const cpu = process.cpuUsage();
    const started = performance.now();
    const files = await discoverMigrations(dir, { cache });
    const wall = performance.now() - started;
    const { user, system } = process.cpuUsage(cpu);
    if (files.length !== size) throw new Error(`found ${files.length} of ${size} files`);
    return { wall, cpu: (user + system) / 1000 };
  };

  const cases = sizes.flatMap((size) => modes.map((mode) => ({ size, mode })));
  const samples = new Map<string, Sample[]>(cases.map(({ size, mode }) => [`${size} ${mode}`, []]));
  for (let rep = 0; rep < reps + 1; rep += 1) {
    for (const { size, mode } of rotate(cases, rep)) {
      const sample = await run(size, mode);
      // The first round warms the JIT and the page cache.
      if (rep > 0) samples.get(`${size} ${mode}`)?.push(sample);
    }
  }

  console.log(`discoverMigrations, median of ${reps} interleaved runs, ms wall (ms CPU)\n`);
  console.log(`| files | ${modes.join(' | ')} |`);
  console.log(`|---:|${modes.map(() => '---:').join('|')}|`);
  for (const size of sizes) {
    const row = modes.map((mode) => {
      const taken = samples.get(`${size} ${mode}`) ?? [];
      const wall = median(taken.map((sample) => sample.wall));
      const cpu = median(taken.map((sample) => sample.cpu));
      return `${wall.toFixed(1)} (${cpu.toFixed(1)})`;
    });
    console.log(`| ${size} | ${row.join(' | ')} |`);
  }

  const big = dirs.get(5000) ?? '';
  const names = (await readdir(big)).map((name) => join(big, name));
  const statSamples = { sync: [] as number[], async32: [] as number[] };
  for (let rep = 0; rep < reps + 1; rep += 1) {
    let started = performance.now();
    for (const path of names) statSync(path, { bigint: true });
    const sync = performance.now() - started;
    started = performance.now();
    await statConcurrently(names, 32);
    const async32 = performance.now() - started;
    if (rep > 0) {
      statSamples.sync.push(sync);
      statSamples.async32.push(async32);
    }
  }
  console.log(
    `\nstat of 5000 files: statSync ${median(statSamples.sync).toFixed(1)} ms, ` +
      `fs.promises.stat 32 at a time ${median(statSamples.async32).toFixed(1)} ms`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}

/** `count` SQL migrations of a few hundred bytes to a few KB, like a real history's. */
async function writeMigrations(dir: string, count: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const start = Date.UTC(2020, 0, 1);
  for (let index = 0; index < count; index += 1) {
    const version = new Date(start + index * 60_000).toISOString().replace(/\D/g, '').slice(0, 14);
    const columns = Array.from(
      { length: 3 + (index % 40) },
      (_, column) => `  column_${column} text not null default 'value ${column}'`,
    );
    const body =
      `-- migrate:up\ncreate table table_${index} (\n  id bigint primary key,\n` +
      `${columns.join(',\n')}\n);\ncreate index on table_${index} (column_0);\n\n` +
      `-- migrate:down\ndrop table table_${index};\n`;
    await writeFile(join(dir, `${version}_table_${index}.sql`), body);
  }
  return dir;
}

async function statConcurrently(paths: readonly string[], limit: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < paths.length) {
      const path = paths[next] ?? '';
      next += 1;
      await stat(path, { bigint: true });
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
}
