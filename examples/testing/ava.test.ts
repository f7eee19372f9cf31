// The ava recipe (docs/testing.md): one harness per test file, a fresh migrated database per test.
// Run by this repository's suite (`./dev test`); TEST_DATABASE_URL names the server, or else a
// shared embedded PostgreSQL is started.
import test from 'ava';
import { createTestDatabases } from '@offloop/testing';
import pg from 'pg';

const databases = createTestDatabases({ dir: new URL('../migrations', import.meta.url).pathname });
// Suite setup: the harness's worker thread, its connections and the template (built once).
// Each test's acquire() is then only the claim of a ready clone.
test.before(() => databases.ready());
test.after.always(() => databases.close());

async function query(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

test('a user can be created', async (t) => {
  const db = await databases.acquire();
  t.teardown(() => db.release());
  await query(db.url, 'insert into users (email) values ($1)', ['ada@example.com']);
  const { rows } = await query(db.url, 'select email, display_name from users');
  t.deepEqual(rows, [{ email: 'ada@example.com', display_name: null }]);
});

test('every test starts from an empty, migrated database', async (t) => {
  const db = await databases.acquire();
  t.teardown(() => db.release());
  const { rows } = await query(db.url, 'select count(*)::int as n from users');
  t.deepEqual(rows, [{ n: 0 }]);
});
