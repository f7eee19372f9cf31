import test from '../helpers/limited-test.ts';
import { createMigrator } from '@offloop/worker';
import { startEarlyThread } from '@offloop/worker/early';
import { takeEarlyThread } from '../../packages/worker/src/host/early-thread.ts';
import { createTestDatabase } from '../helpers/database.ts';
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
