import test from '../helpers/limited-test.ts';
import { createFleet, createMigrator } from '@offloop/worker';
import { startEarlyThread } from '@offloop/worker/early';
import { takeEarlyThread } from '../../packages/worker/src/host/early-thread.ts';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { sql } from 'slonik';
import { migrationsDir } from '../helpers/fixtures.ts';

const USERS = '-- migrate:up\ncreate table users (id int);\n-- migrate:down\ndrop table users;\n';
const WORKER_BOOT = new URL('../../packages/worker/src/thread/worker-boot.ts', import.meta.url)
  .href;

// One file: the early thread is the module's state, shared by the tests of this file only.
test.serial('the first migrator takes the thread started early, and runs on it', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  startEarlyThread();
  await using migrator = createMigrator({ url, dir });
  t.is((await migrator.up()).applied.length, 1);
  t.is(takeEarlyThread({ filename: WORKER_BOOT }), null, 'taken by the migrator');
});

test.serial('an early thread is not taken by a migrator that needs other thread settings', (t) => {
  startEarlyThread();
  t.is(takeEarlyThread({ filename: WORKER_BOOT, resourceLimits: { stackSizeMb: 4 } }), null);
  t.is(takeEarlyThread({ filename: WORKER_BOOT }), null, 'and it was ended');
  startEarlyThread();
  const pool = takeEarlyThread({ filename: WORKER_BOOT });
  t.not(pool, null, 'the same settings take it');
  return pool?.destroy();
});

test.serial(
  'a fleet that runs several targets on its one thread leaves the early thread alone',
  async (t) => {
    const url = await createTestDatabase(t);
    await withPool(url, async (pool) => {
      for (const schema of ['tenant_1', 'tenant_2', 'tenant_3'])
        await pool.query(sql.unsafe`create schema ${sql.identifier([schema])}`);
    });
    const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
    startEarlyThread();
    await using fleet = createFleet({ url, dir, schemas: 'tenant_*', threads: 1, concurrency: 3 });
    t.is((await fleet.up()).counts.applied, 3);
    const pool = takeEarlyThread({ filename: WORKER_BOOT });
    t.not(pool, null, 'still there: it runs one task at a time, the fleet three');
    await pool?.destroy();
  },
);
