// The node:test recipe (docs/testing.md): `node --test examples/testing/node-test.test.ts`.
// Run by this repository's suite through test/testing/recipes.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabases } from '@offloop/testing';
import pg from 'pg';

const databases = createTestDatabases({ dir: new URL('../migrations', import.meta.url).pathname });
before(() => databases.ready()); // suite setup; each test's acquire() is then a claim
after(() => databases.close());

test('posts belong to users', async () => {
  await using db = await databases.acquire(); // dropped when the test ends
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      'insert into users (email) values ($1) returning id',
      ['grace@example.com'],
    );
    await client.query('insert into posts (author_id, title) values ($1, $2)', [
      rows[0]?.id,
      'Hello',
    ]);
    const count = await client.query<{ n: number }>('select count(*)::int as n from posts');
    assert.equal(count.rows[0]?.n, 1);
  } finally {
    await client.end();
  }
});

test('tests run in parallel on separate databases', { concurrency: 2 }, async (t) => {
  await Promise.all(
    [1, 2].map((n) =>
      t.test(`database ${String(n)}`, async () => {
        await using db = await databases.acquire();
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        try {
          await client.query('insert into users (email) values ($1)', [
            `user${String(n)}@example.com`,
          ]);
          const { rows } = await client.query<{ n: number }>(
            'select count(*)::int as n from users',
          );
          assert.equal(rows[0]?.n, 1);
        } finally {
          await client.end();
        }
      }),
    ),
  );
});
