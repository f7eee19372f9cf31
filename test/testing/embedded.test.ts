// The test harness with no database URL: it starts a shared embedded PostgreSQL through a keeper
// process, which every harness of the project reuses, and which stops by itself when idle,
// keeping its data (and so the templates) for the next run.
import test from 'ava';
import { createTestDatabases } from '@offloop/testing';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { withPool } from '../helpers/database.ts';
import { eventually } from '../helpers/eventually.ts';

// This file's harnesses must not see the suite's server: no URL at all.
delete process.env['TEST_DATABASE_URL'];

const USERS = '-- migrate:up\ncreate table users (id int primary key, email text not null);\n';

/**
 * Whether a process runs. The keeper was spawned from a harness thread that has ended, so once it
 * exits nobody reaps it until this process does: a zombie counts as gone.
 */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${String(pid)}/stat`, 'utf8'));
  } catch {
    return false; // gone meanwhile
  }
};

test('with no URL the harness starts a shared embedded server, reuses it, and the server stops when idle, keeping its templates', async (t) => {
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'offloop-embedded-harness-'));
  await mkdir(path.join(cwd, 'migrations'));
  await writeFile(path.join(cwd, 'migrations', '20260101000000_users.sql'), USERS);
  // Where the harness keeps the server of a project: keyed by its working directory.
  const serverDir = path.join(
    os.tmpdir(),
    `offloop-testing-${createHash('sha256').update(cwd).digest('hex').slice(0, 12)}`,
  );
  const statePath = path.join(serverDir, 'server.json');
  const keeperPid = async (): Promise<number | null> => {
    const text = await readFile(statePath, 'utf8').catch(() => null);
    return text === null
      ? null
      : z.object({ keeperPid: z.number() }).parse(JSON.parse(text)).keeperPid;
  };
  t.teardown(async () => {
    const pid = await keeperPid();
    if (pid !== null && alive(pid)) process.kill(pid, 'SIGTERM');
    await eventually(() => pid === null || !alive(pid), 30_000);
    await rm(serverDir, { recursive: true, force: true });
    await rm(cwd, { recursive: true, force: true });
  });
  const options = { cwd, poolSize: 1, embeddedIdleTimeout: 1_500 };

  const first = createTestDatabases(options);
  const second = createTestDatabases(options);
  const [a, b] = await Promise.all([first.acquire(), second.acquire()]);
  t.not(a.name, b.name);
  t.is(new URL(a.url).port, new URL(b.url).port, 'both harnesses use one server');
  t.is(new URL(a.url).hostname, '127.0.0.1');
  const tables = await withPool(a.url, (pool) =>
    pool.anyFirst(sql.type(z.object({ relname: z.string() }))`
    select relname from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace and not starts_with(relname, 'offloop_')`),
  );
  t.deepEqual(tables, ['users']);
  const built = await first.ready();
  const pid = await keeperPid();
  t.truthy(pid);
  t.true(alive(pid ?? 0));
  await Promise.all([first.close(), second.close()]);

  // Nobody connected for the idle timeout: the keeper stops the server and exits; the data stays.
  t.true(
    await eventually(() => !alive(pid ?? 0), 60_000),
    'the keeper did not stop the idle server',
  );
  t.false(existsSync(statePath));
  t.true(existsSync(path.join(serverDir, 'pg', 'PG_VERSION')));

  // The next run starts it again and finds the template built by the first one.
  await using third = createTestDatabases(options);
  const again = await third.ready();
  t.false(again.built);
  t.is(again.name, built.name);
  await using db = await third.acquire();
  t.true(db.name.startsWith('offloop_u_'));
  t.not(await keeperPid(), pid);
});
