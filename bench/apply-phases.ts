/**
 * Where offloop's apply time goes, by phase, for the SQL-only workload of host-impact.ts: thread
 * start and module load, discovery and parsing, the lock and state, the migrations, and close.
 * For scale, the floor of the migration phase: every file sent from a bare `pg` client as one
 * query (`begin`, the file, a version row and a log row, `commit`), as offloop's batches are.
 * Run: `./dev node bench/apply-phases.ts [--reps N] [--url postgres://...]` (embedded PostgreSQL
 * when no URL is given).
 */
import { createMigrator } from '@offloop/worker';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres } from '../packages/embedded-postgres/src/index.ts';
import { toPsql } from './host-impact-adapters.ts';
import { generateWorkload } from './workload.ts';

const { values: flags } = parseArgs({
  options: { reps: { type: 'string' }, url: { type: 'string' } },
});
const reps = Number(flags.reps ?? 3);

const work = await mkdtemp(path.join(os.tmpdir(), 'offloop-phases-'));
const embedded =
  flags.url === undefined
    ? await startEmbeddedPostgres({ dataDir: path.join(work, 'pg'), persistent: false })
    : null;
const admin = flags.url ?? embedded?.url ?? '';
try {
  const dir = path.join(work, 'workload');
  await generateWorkload(dir, { jsMigrations: 0 });
  const rows: Record<string, number>[] = [];
  for (let rep = 0; rep < reps; rep += 1) {
    const name = `offloop_phases_${rep}_${process.pid}`;
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`create database ${name}`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    const marks: Record<string, number> = {};
    const t0 = performance.now();
    const mark = (label: string) => {
      marks[label] ??= performance.now() - t0;
    };
    {
      await using migrator = createMigrator({ url: url.toString(), dir });
      await migrator.up({
        onProgress: (event) => {
          if (event.type === 'run:started') mark('thread up, run started');
          if (event.type === 'lock:acquired') mark('files parsed, lock held');
          if (event.type === 'plan:ready') mark('state read, plan ready');
          if (event.type === 'migration:started') mark('first migration started');
          if (event.type === 'run:finished') mark('last migration done');
        },
      });
      mark('result on host');
    }
    mark('closed');
    await client.query(`drop database ${name} with (force)`);
    await client.end();
    rows.push(marks);
    console.error(`[rep ${rep + 1}/${reps}] ${Math.round(marks['closed'] ?? 0)} ms`);
  }
  // The floor: the same files, one query each, from a bare client on a fresh database.
  const texts = await Promise.all(
    (await toPsql(dir, path.join(work, 'psql'))).map((file) => readFile(file, 'utf8')),
  );
  const floors: number[] = [];
  for (let rep = 0; rep < reps; rep += 1) {
    const name = `offloop_floor_${rep}_${process.pid}`;
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`create database ${name}`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    const session = new pg.Client({ connectionString: url.toString() });
    await session.connect();
    await session.query(
      'create table v (version text primary key, duration_ms int); create table l (id bigint generated always as identity, version text, duration_ms int)',
    );
    const started = performance.now();
    for (const [index, text] of texts.entries()) {
      const ms = 'round(extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)::int';
      await session.query(
        `begin;\n${text}\n;\ninsert into v values ('${String(index)}', ${ms});\ninsert into l (version, duration_ms) values ('${String(index)}', ${ms});\ncommit;`,
      );
    }
    floors.push(performance.now() - started);
    await session.end();
    await client.query(`drop database ${name} with (force)`);
    await client.end();
  }
  const labels = Object.keys(rows[0] ?? {});
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  console.log('| phase (ms since createMigrator, median) | at | step |');
  console.log('| --- | --- | --- |');
  let previous = 0;
  for (const label of labels) {
    const at = median(rows.map((row) => row[label] ?? NaN));
    console.log(`| ${label} | ${Math.round(at)} | ${Math.round(at - previous)} |`);
    previous = at;
  }
  console.log(
    `\nfloor of the migration phase (bare pg client, one query per migration, median): ${Math.round(median(floors))} ms`,
  );
} finally {
  await embedded?.stop();
  await rm(work, { recursive: true, force: true });
}
