import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPool, sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const REPLICAS = 20;
const run = promisify(execFile);

test(`${REPLICAS} processes calling up() at once: one applies each migration once, the others wait and find nothing to do`, async (t) => {
  t.timeout(180_000);
  const url = await createTestDatabase(t);
  // Plain `create table` fails if run twice; the sleep keeps the winner busy while the others start.
  const files: Record<string, string> = {};
  for (let index = 1; index <= 5; index += 1) {
    files[`2026010${index}000000_t${index}.sql`] =
      `-- migrate:up\ncreate table t${index} (id int);\n${index === 1 ? 'select pg_sleep(1);\n' : ''}`;
  }
  const dir = await migrationsDir(t, files);
  const script = join(import.meta.dirname, '..', 'fixtures', 'replica.ts');
  const outcomes = await Promise.all(
    Array.from({ length: REPLICAS }, () =>
      run(process.execPath, [script, url, dir], { timeout: 150_000 }),
    ),
  );
  const results = outcomes.map(
    ({ stdout }) => JSON.parse(stdout) as { applied: string[]; current: string; waitedMs: number },
  );
  const versions = Object.keys(files)
    .map((file) => file.slice(0, 14))
    .sort();

  // Every process exited 0 (execFile rejects otherwise) and ends at the newest version.
  t.is(results.length, REPLICAS);
  t.true(results.every((result) => result.current === versions.at(-1)));
  const appliers = results.filter((result) => result.applied.length > 0);
  t.is(appliers.length, 1, 'one replica applied');
  t.deepEqual(appliers[0]?.applied, versions);
  t.is(
    results.filter((result) => result.applied.length === 0).length,
    REPLICAS - 1,
    'the others had nothing to do',
  );

  const pool = await createPool(url, { maximumPoolSize: 1 });
  try {
    const rows = await pool.anyFirst(
      sql.type(
        z.object({ version: z.string() }),
      )`select version from public.offloop_migrations order by version`,
    );
    t.deepEqual(rows, versions, 'each migration applied exactly once');
  } finally {
    await pool.end();
  }
});
