import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { adminDatabaseUrl } from '../helpers/database.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the node:test recipe in examples/testing passes under `node --test`', async (t) => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--test', '--test-reporter=tap', 'examples/testing/node-test.test.ts'],
    {
      cwd: root,
      env: { ...process.env, TEST_DATABASE_URL: adminDatabaseUrl() },
      timeout: 110_000,
    },
  );
  t.regex(stdout, /^# pass [1-9]\d*$/m);
  t.regex(stdout, /^# fail 0$/m);
});
