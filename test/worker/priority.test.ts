import test from '../helpers/limited-test.ts';
import { ConfigError } from '@offloop/core';
import { createMigrator } from '@offloop/worker';
import os from 'node:os';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

// A JS migration records the nice value of the thread it runs on.
const RECORD_NICE = [
  "import os from 'node:os';",
  "import type { MigrationContext } from '@offloop/core';",
  'export async function up({ connection, sql }: MigrationContext) {',
  '  await connection.query(sql.unsafe`create table nice as select ${os.getPriority(0)}::int as value`);',
  '}',
].join('\n');

const niceOf = (url: string) =>
  withPool(url, (pool) =>
    pool.oneFirst(sql.type(z.object({ value: z.number() }))`select value from nice`),
  );

test('the worker thread runs at nice 10 by default, and the host thread keeps its priority', async (t) => {
  if (process.platform !== 'linux') {
    t.pass('nice is per process outside Linux: not applied');
    return;
  }
  const before = os.getPriority(0);
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_nice.ts': RECORD_NICE });
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  t.is(await niceOf(url), Math.max(before, 10));
  t.is(os.getPriority(0), before);
});

test('workerNice sets the worker thread priority; 0 leaves it as the host has it', async (t) => {
  if (process.platform !== 'linux') {
    t.pass('nice is per process outside Linux: not applied');
    return;
  }
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_nice.ts': RECORD_NICE });
  await using migrator = createMigrator({ url, dir, workerNice: 0 });
  await migrator.up();
  t.is(await niceOf(url), os.getPriority(0));
  t.throws(() => createMigrator({ url, dir, workerNice: 20 }), {
    instanceOf: ConfigError,
    code: 'CONFIG_INVALID',
  });
});
