import test from '../helpers/limited-test.ts';
import type { ExecutionContext } from 'ava';
import { CreateDatabaseError, MigrationFailedError } from '@offloop/core';
import { createTestDatabases, projectId } from '@offloop/testing';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { adminDatabaseUrl, withPool } from '../helpers/database.ts';
import { eventually } from '../helpers/eventually.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const USERS =
  '-- migrate:up\ncreate table users (id int primary key, email text not null);\n\n-- migrate:down\ndrop table users;\n';
const NOTES = '-- migrate:up\ncreate table notes (id int primary key, body text);\n';

const databaseExists = (name: string) =>
  withPool(adminDatabaseUrl(), (pool) =>
    pool.exists(sql.unsafe`select 1 from pg_database where datname = ${name}`),
  );

const databasesLike = (prefix: string) =>
  withPool(adminDatabaseUrl(), (pool) =>
    pool.anyFirst(
      sql.type(
        z.object({ datname: z.string() }),
      )`select datname from pg_database where starts_with(datname, ${prefix}) order by 1`,
    ),
  );

const tables = (url: string) =>
  withPool(url, (pool) =>
    pool.anyFirst(sql.type(z.object({ relname: z.string() }))`
    select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r' and not starts_with(relname, 'offloop_') order by relname`),
  );

/**
 * A migrations directory of the test's own (a project of its own for the harness), whose
 * template and clones are dropped when the test ends: a temporary directory is never seen again,
 * and its ready clones would stay on the server for good.
 */
async function projectDir(t: ExecutionContext, files: Record<string, string>): Promise<string> {
  const dir = await migrationsDir(t, files);
  // Registered first, so it runs after the harness's own teardown (teardowns run last-in first-out).
  t.teardown(() => dropProject(dir));
  return dir;
}

/** Drop the template and every clone of the project of `dir`. */
async function dropProject(dir: string): Promise<void> {
  const project = projectId(dir);
  for (const name of await databasesLike('offloop_')) {
    if (!name.includes(`_${project}_`)) continue;
    await withPool(adminDatabaseUrl(), async (pool) => {
      if (name.startsWith('offloop_tpl_'))
        await pool.query(sql.unsafe`alter database ${sql.identifier([name])} is_template false`);
      await pool.query(sql.unsafe`drop database if exists ${sql.identifier([name])} with (force)`);
    });
  }
}

// Two tests that run at the same time (ava runs a file's tests concurrently) share one harness.
const sharedDir = mkdtempSync(path.join(os.tmpdir(), 'offloop-harness-'));
writeFileSync(path.join(sharedDir, '20260101000000_users.sql'), USERS);
writeFileSync(path.join(sharedDir, '20260102000000_notes.sql'), NOTES);
const shared = createTestDatabases({ dir: sharedDir, poolSize: 2 });
test.before(() => shared.ready());
test.after.always(async () => {
  await shared.close();
  await dropProject(sharedDir);
  await rm(sharedDir, { recursive: true, force: true });
});

const written = { a: Promise.withResolvers<void>(), b: Promise.withResolvers<void>() };
const names: string[] = [];

for (const [me, other] of [
  ['a', 'b'],
  ['b', 'a'],
] as const) {
  test(`parallel test ${me} gets its own migrated database; the other's changes are invisible; it is dropped on release`, async (t) => {
    const db = await shared.acquire();
    names.push(db.name);
    t.deepEqual(await tables(db.url), ['notes', 'users']);
    await withPool(db.url, (pool) =>
      pool.query(sql.unsafe`insert into users (id, email) values (1, ${`${me}@example.com`})`),
    );
    written[me].resolve();
    await written[other].promise; // both have written before either looks
    const emails = await withPool(db.url, (pool) =>
      pool.anyFirst(sql.type(z.object({ email: z.string() }))`select email from users`),
    );
    t.deepEqual(emails, [`${me}@example.com`]);
    t.is(new Set(names).size, names.length);
    await db.release();
    t.false(await databaseExists(db.name));
  });
}

test('an unchanged set of migrations reuses the template; an edited one rebuilds it and drops the old one', async (t) => {
  const dir = await projectDir(t, { '20260101000000_users.sql': USERS });
  const first = createTestDatabases({ dir, poolSize: 1 });
  const built = await first.template();
  await first.close();
  t.true(built.built);
  t.true(await databaseExists(built.name));

  const second = createTestDatabases({ dir, poolSize: 1 });
  const reused = await second.template();
  await second.close();
  t.false(reused.built);
  t.is(reused.name, built.name);

  await writeFile(
    path.join(dir, '20260101000000_users.sql'),
    USERS.replace('email text not null', 'email text not null, name text'),
  );
  await using third = createTestDatabases({ dir, poolSize: 1 });
  const rebuilt = await third.template();
  t.true(rebuilt.built);
  t.not(rebuilt.key, built.key);
  t.deepEqual(rebuilt.dropped, [built.name]);
  t.false(await databaseExists(built.name));
  // Ready clones of the old template went with it.
  t.deepEqual(
    (await databasesLike(`offloop_r_${built.name.split('_')[2] ?? ''}_`)).filter((name) =>
      name.includes(built.key),
    ),
    [],
  );

  await using db = await third.acquire();
  const columns = await withPool(db.url, (pool) =>
    pool.anyFirst(sql.type(z.object({ column_name: z.string() }))`
    select column_name from information_schema.columns where table_name = 'users' order by ordinal_position`),
  );
  t.deepEqual(columns, ['id', 'email', 'name']);
});

test('harnesses started at once build the template exactly once', async (t) => {
  const dir = await projectDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_notes.sql': NOTES,
  });
  const harnesses = Array.from({ length: 4 }, () => createTestDatabases({ dir, poolSize: 0 }));
  try {
    const infos = await Promise.all(harnesses.map((harness) => harness.template()));
    t.is(infos.filter((info) => info.built).length, 1);
    t.is(new Set(infos.map((info) => info.name)).size, 1);
    const databases = await Promise.all(harnesses.map((harness) => harness.acquire()));
    t.is(new Set(databases.map((db) => db.name)).size, 4);
    for (const db of databases) t.deepEqual(await tables(db.url), ['notes', 'users']);
  } finally {
    await Promise.all(harnesses.map((harness) => harness.close()));
  }
});

test('close drops the databases it handed out and did not get back', async (t) => {
  const dir = await projectDir(t, { '20260101000000_users.sql': USERS });
  const harness = createTestDatabases({ dir, poolSize: 0 });
  const db = await harness.acquire();
  t.true(await databaseExists(db.name));
  t.false(db.fromPool);
  await harness.close();
  t.false(await databaseExists(db.name));
});

test('a failing migration reports MIGRATION_FAILED with its file and line through the harness, and leaves no template', async (t) => {
  const dir = await projectDir(t, {
    '20260101000000_users.sql': USERS,
    '20260102000000_broken.sql':
      '-- migrate:up\ncreate table ok (id int);\n\ninsert into missing_table values (1);\n',
  });
  await using harness = createTestDatabases({ dir });
  const error = await t.throwsAsync(harness.acquire(), {
    instanceOf: MigrationFailedError,
    code: 'MIGRATION_FAILED',
  });
  t.is(error?.details.file, '20260102000000_broken.sql');
  t.is(error?.details.line, 4);
  t.is(error?.details.sqlstate, '42P01');
  // The next call reports the same failure rather than hanging or cloning a half-built template.
  await t.throwsAsync(harness.acquire(), { instanceOf: MigrationFailedError });
  // Template names start with offloop_tpl_<first 8 hex of sha256(migrations dir)>.
  const project = projectId(dir);
  t.deepEqual(await databasesLike(`offloop_tpl_${project}_`), []);
});

test('a server that refuses CREATE DATABASE gives CREATE_DATABASE_FAILED with the SQLSTATE', async (t) => {
  const role = `offloop_nocreatedb_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(8).toString('hex');
  await withPool(adminDatabaseUrl(), (pool) =>
    pool.query(
      sql.unsafe`create role ${sql.identifier([role])} login nocreatedb password ${sql.literalValue(password)}`,
    ),
  );
  t.teardown(() =>
    withPool(adminDatabaseUrl(), (pool) =>
      pool.query(sql.unsafe`drop role if exists ${sql.identifier([role])}`),
    ),
  );
  const url = new URL(adminDatabaseUrl());
  url.username = role;
  url.password = password;
  const dir = await projectDir(t, { '20260101000000_users.sql': USERS });
  await using harness = createTestDatabases({ url: url.toString(), dir });
  const error = await t.throwsAsync(harness.acquire(), {
    instanceOf: CreateDatabaseError,
    code: 'CREATE_DATABASE_FAILED',
  });
  t.is(error?.details.sqlstate, '42501');
});

test('a background clone that fails pauses the refill, which resumes by itself once the server allows it again', async (t) => {
  const role = `offloop_flaky_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(8).toString('hex');
  const admin = (statement: ReturnType<typeof sql.unsafe>) =>
    withPool(adminDatabaseUrl(), (pool) => pool.query(statement));
  await admin(
    sql.unsafe`create role ${sql.identifier([role])} login createdb password ${sql.literalValue(password)}`,
  );
  t.teardown(() => admin(sql.unsafe`drop role if exists ${sql.identifier([role])}`));
  // Its databases (owned by the role) go first.
  const dir = await projectDir(t, { '20260101000000_users.sql': USERS });
  const project = projectId(dir);
  const url = new URL(adminDatabaseUrl());
  url.username = role;
  url.password = password;
  const harness = createTestDatabases({ url: url.toString(), dir, poolSize: 2 });
  t.teardown(() => harness.close());
  const info = await harness.ready();
  const readyPrefix = `offloop_r_${project}_${info.key}_`;
  t.true(
    await eventually(async () => (await databasesLike(readyPrefix)).length >= 2, 110_000),
    'the pool did not fill in 110 s',
  );

  await admin(sql.unsafe`alter role ${sql.identifier([role])} nocreatedb`);
  for (const name of await databasesLike(readyPrefix))
    await admin(sql.unsafe`drop database ${sql.identifier([name])} with (force)`);
  // Taking the clone claimed ahead during the fill makes the harness refill behind it, which the
  // server now refuses.
  const db = await harness.acquire();
  t.true(db.fromPool);
  t.true(
    await eventually(async () => (await harness.stats()).backgroundFailures > 0, 110_000),
    'no background failure seen',
  );
  t.regex(
    (await harness.stats()).lastBackgroundError ?? '',
    /^42501: permission denied to create database/,
  );

  // Nothing asks the harness for anything now: the pause must end by itself.
  await admin(sql.unsafe`alter role ${sql.identifier([role])} createdb`);
  t.true(
    await eventually(async () => (await databasesLike(readyPrefix)).length >= 2, 110_000),
    'the refill did not resume',
  );
  await db.release();
});

// Serial: it drops every idle project's databases, which the concurrent tests of this file use.
test.serial(
  'prune drops the databases of projects no harness uses, and leaves running ones and its own',
  async (t) => {
    const projectOf = (dir: string) => projectId(dir);
    const idleDir = await projectDir(t, {
      '20260101000000_users.sql': `${USERS}-- idle project\n`,
    });
    const idle = createTestDatabases({ dir: idleDir, poolSize: 1 });
    await idle.acquire(); // not released: close drops it; the template and a ready clone stay
    await idle.close();
    t.true(
      (await databasesLike('offloop_tpl_')).some((name) =>
        name.includes(`_${projectOf(idleDir)}_`),
      ),
    );

    const runningDir = await projectDir(t, {
      '20260101000000_users.sql': `${USERS}-- running project\n`,
    });
    await using running = createTestDatabases({ dir: runningDir, poolSize: 1 });
    await running.ready();
    const ownDir = await projectDir(t, {
      '20260101000000_users.sql': `${USERS}-- pruning project\n`,
    });
    await using own = createTestDatabases({ dir: ownDir, poolSize: 1 });
    await own.ready();

    const result = await own.prune();
    t.true(
      result.dropped.some((name) => name.startsWith(`offloop_tpl_${projectOf(idleDir)}_`)),
      "the idle project's template is dropped",
    );
    t.true(result.projectsInUse >= 1);
    const left = await databasesLike('offloop_');
    t.false(left.some((name) => name.includes(`_${projectOf(idleDir)}_`)));
    t.true(
      left.some((name) => name.startsWith(`offloop_tpl_${projectOf(runningDir)}_`)),
      'a running project keeps its template',
    );
    t.true(
      left.some((name) => name.startsWith(`offloop_tpl_${projectOf(ownDir)}_`)),
      'its own project keeps its template',
    );
    // The running harness still hands out databases.
    await using db = await running.acquire();
    t.true(db.name.startsWith('offloop_u_'));
  },
);

// Serial: it counts the ready clones of its own pool, and each CREATE DATABASE (FILE_COPY, with its
// checkpoint) is slow on a server that the rest of the suite keeps busy.
test.serial(
  'ready() claims clones ahead; acquire() hands them out; the file peak is remembered; unused ones return to the pool',
  async (t) => {
    // Migrations of its own: other tests of this file run at the same time, and a template (with
    // its pool of ready clones) is shared by every harness with the same migrations.
    const dir = await projectDir(t, {
      '20260101000000_users.sql': `${USERS}-- only this test's template\n`,
    });
    const harness = createTestDatabases({ dir, poolSize: 2 });
    t.teardown(() => harness.close());
    const info = await harness.ready();
    const readyPrefix = `offloop_r_${info.name.split('_')[2] ?? ''}_${info.key}_`;
    // The harness tops the pool up as soon as it starts, not at the first claim.
    const deadline = Date.now() + 110_000;
    while ((await databasesLike(readyPrefix)).length < 2) {
      if (Date.now() > deadline) {
        // What the server was doing, so that a stall can be told from a slow machine.
        const activity = await withPool(adminDatabaseUrl(), (pool) =>
          pool.any(sql.type(
            z.object({
              pid: z.number(),
              state: z.string().nullable(),
              wait: z.string().nullable(),
              seconds: z.number().nullable(),
              query: z.string(),
            }),
          )`
        select pid, state, wait_event_type || ':' || wait_event as wait, extract(epoch from now() - query_start)::float8 as seconds, left(query, 120) as query
        from pg_stat_activity where pid <> pg_backend_pid() and backend_type = 'client backend' and state <> 'idle'`),
        );
        t.log(
          'harness stats',
          await harness.stats(),
          'ready clones',
          await databasesLike(readyPrefix),
        );
        t.log('server activity', activity);
        return t.fail('the pool was not refilled to 2 ready clones within 110 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The first one was claimed ahead during ready() (renamed out of the pool): no round trip.
    const db = await harness.acquire();
    t.true(db.fromPool);
    t.true(db.name.startsWith('offloop_u_'));
    t.deepEqual(await tables(db.url), ['users']);
    t.false((await databasesLike(readyPrefix)).includes(db.name));
    // Claims at once never get the same clone.
    const many = await Promise.all(Array.from({ length: 4 }, () => harness.acquire()));
    t.is(new Set([db.name, ...many.map((each) => each.name)]).size, 5);
    await Promise.all([db, ...many].map((each) => each.release()));
    await harness.close();
    // The peak of databases this file held at once (5) is remembered on the template for the next run.
    const comment = await withPool(adminDatabaseUrl(), (pool) =>
      pool.oneFirst(sql.type(z.object({ c: z.string().nullable() }))`
    select shobj_description(oid, 'pg_database') as c from pg_database where datname = ${info.name}`),
    );
    t.regex(comment ?? '', /\bfile-peak=5\b/);
    // A new harness claims that many ahead during ready(); unused ones go back to the pool at close.
    const next = createTestDatabases({ dir, poolSize: 2 });
    t.teardown(() => next.close());
    await next.ready();
    await next.close();
    t.deepEqual(await databasesLike(`offloop_u_${info.name.split('_')[2] ?? ''}_`), []);
    t.true((await databasesLike(readyPrefix)).length >= 1);
  },
);

test('a harness whose session connection is lost takes its locks again on a new one, and says so in its stats', async (t) => {
  const dir = await projectDir(t, { '20260101000000_users.sql': USERS });
  const project = projectId(dir);
  // The project lock every harness holds shared, as pg_locks shows its two keys.
  const holderOfProjectLock = () =>
    withPool(adminDatabaseUrl(), (pool) =>
      pool.maybeOneFirst(sql.type(z.object({ pid: z.number() }))`
    select pid from pg_locks where locktype = 'advisory' and classid = ${0x0ff4} and objid = ${Number.parseInt(project, 16) >>> 0} and granted limit 1`),
    );
  await using harness = createTestDatabases({ dir, poolSize: 0 });
  await harness.ready();
  const before = await holderOfProjectLock();
  t.not(before, null);
  await withPool(adminDatabaseUrl(), (pool) =>
    pool.query(sql.unsafe`select pg_terminate_backend(${before})`),
  );

  t.true(
    await eventually(async () => {
      const now = await holderOfProjectLock();
      return now !== null && now !== before;
    }, 30_000),
    'the project lock was not taken again',
  );
  t.regex(
    (await harness.stats()).lastBackgroundError ?? '',
    /session connection was lost, and its locks with it/,
  );
  const db = await harness.acquire();
  t.true((await tables(db.url)).includes('users'));
  await db.release();
});
