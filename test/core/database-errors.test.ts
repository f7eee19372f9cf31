/**
 * Failures of the database itself, as opposed to a migration's: each comes back typed, with the
 * URL that failed and no password, never as an INTERNAL_ERROR.
 */
import test from '../helpers/limited-test.ts';
import { DatabaseError, DatabaseUnavailableError, isOffloopError } from '@offloop/core';
import { createMigrator } from '@offloop/worker';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { sql } from 'slonik';
import { z } from 'zod';
import {
  adminDatabaseUrl,
  createTestDatabase,
  databaseName,
  withPool,
} from '../helpers/database.ts';
import { eventually } from '../helpers/eventually.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const USERS = '-- migrate:up\ncreate table users (id int primary key);\n';

test('a server that accepts the connection and never answers ends in DATABASE_UNAVAILABLE after connectTimeout', async (t) => {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address() as { port: number };
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({
    url: `postgres://postgres:hunter22@127.0.0.1:${port}/postgres`,
    dir,
    connectTimeout: 500,
  });
  const error = await t.throwsAsync(migrator.status(), { instanceOf: DatabaseUnavailableError });
  t.regex(error.message, /no connection within --connect-timeout/);
  t.false(error.message.includes('hunter22'));
});

test('a lock URL that cannot be reached is the one the error names', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({
    url,
    dir,
    lockUrl: 'postgres://postgres@127.0.0.1:1/locks',
    connectTimeout: 2000,
  });
  const error = await t.throwsAsync(migrator.up(), { instanceOf: DatabaseUnavailableError });
  t.regex(error.message, /^Cannot connect to postgres:\/\/postgres@127\.0\.0\.1:1\/locks: /);
  t.is(error.details.url, 'postgres://postgres@127.0.0.1:1/locks');
});

test("a role without rights on the version table's schema gets DATABASE_ERROR with its SQLSTATE and what to grant", async (t) => {
  const url = await createTestDatabase(t);
  const role = `offloop_norights_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(8).toString('hex');
  await withPool(adminDatabaseUrl(), (pool) =>
    pool.query(
      sql.unsafe`create role ${sql.identifier([role])} login password ${sql.literalValue(password)}`,
    ),
  );
  t.teardown(() =>
    withPool(adminDatabaseUrl(), (pool) =>
      pool.query(sql.unsafe`drop role if exists ${sql.identifier([role])}`),
    ),
  );
  // PostgreSQL 15 and later give PUBLIC no CREATE on schema public; say so for older servers too.
  await withPool(url, (pool) => pool.query(sql.unsafe`revoke create on schema public from public`));
  const asRole = new URL(url);
  asRole.username = role;
  asRole.password = password;
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url: asRole.toString(), dir });
  const error = await t.throwsAsync(migrator.up(), {
    instanceOf: DatabaseError,
    code: 'DATABASE_ERROR',
  });
  t.is(error.details.sqlstate, '42501');
  t.regex(
    error.message,
    /not a migration's statement\): permission denied for schema public \(SQLSTATE 42501\)\. The role needs the right to create/,
  );
  t.false(error.message.includes(password));
});

test('every connection of a failing run terminated from SQL: the host gets a typed failure, never INTERNAL_ERROR, and nothing of the migration stays', async (t) => {
  const url = await createTestDatabase(t);
  const database = databaseName(url);
  // Slow, then failing: the connections are terminated while it sleeps.
  const dir = await migrationsDir(t, {
    '20260101000000_slow.sql':
      '-- migrate:up\ncreate table early (id int);\nselect pg_sleep(5);\nselect 1/0;\n',
  });
  await using migrator = createMigrator({ url, dir });
  const run = migrator.up();
  const asleep = () =>
    withPool(adminDatabaseUrl(), (pool) =>
      pool.exists(sql.unsafe`
    select 1 from pg_stat_activity where datname = ${database} and state = 'active' and query like '%pg_sleep%' and application_name like '%offloop:%'`),
    );
  t.true(await eventually(asleep, 20_000), 'the migration reached its pg_sleep');
  // Every backend the run tagged (packages/worker/src/thread/application-name.ts): the lock's and the work's.
  // The backends are chosen first (offset 0 keeps the planner from merging the subquery): in one
  // WHERE clause PostgreSQL may call pg_terminate_backend before the datname filter is applied
  // (it is pushed down to pg_stat_activity's function scan), ending other tests' backends too.
  const terminated = await withPool(adminDatabaseUrl(), (pool) =>
    pool.anyFirst(sql.type(z.object({ pid: z.number() }))`
    select pid from (select pid from pg_stat_activity where datname = ${database} and application_name like '%offloop:%' offset 0) chosen
    where pg_terminate_backend(pid)`),
  );
  t.true(terminated.length >= 2, 'the lock connection and the migration connection, at least');
  const error: unknown = await run.then(
    () => null,
    (failure: unknown) => failure,
  );
  if (!isOffloopError(error)) return t.fail(`not an offloop error: ${String(error)}`);
  t.true(
    ['MIGRATION_FAILED', 'DATABASE_UNAVAILABLE', 'LOCK_LOST'].includes(error.code),
    `${error.code}: ${error.message}`,
  );
  for (const suppressed of error.suppressed ?? [])
    t.true(isOffloopError(suppressed), `a cleanup failure is typed too: ${suppressed.message}`);
  t.false(
    await withPool(url, (pool) =>
      pool.exists(sql.unsafe`select 1 from pg_class where relname = 'early'`),
    ),
    'the migration was rolled back',
  );
});
