import test from 'ava';
import { MigrationFailedError } from '@offloop/core';
import { createMigrator, healthCheck, Readiness, type ReadinessState } from '@offloop/worker';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const GOOD = '-- migrate:up\ncreate table users (id int);\n';
const BROKEN = '-- migrate:up\ninsert into nowhere values (1);\n';

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function get(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url);
  const text = await response.text();
  return {
    status: response.status,
    body: response.headers.get('content-type')?.includes('json')
      ? (JSON.parse(text) as unknown)
      : text,
  };
}

test('readiness goes pending, migrating, failed, then migrating, ready; events, iterator and getter agree', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_users.sql': BROKEN });
  await using migrator = createMigrator({ url, dir });
  const { readiness } = migrator;
  t.is(readiness.state, 'pending');

  const fromEvents: ReadinessState[] = [];
  readiness.addEventListener('change', () => fromEvents.push(readiness.state));
  const stop = new AbortController();
  const fromIterator: ReadinessState[] = [];
  const iterating = (async () => {
    for await (const state of readiness.changes({ signal: stop.signal })) fromIterator.push(state);
  })();

  const server = createServer(healthCheck(readiness));
  t.teardown(() => server.close());
  const health = await listen(server);
  t.deepEqual(await get(health), { status: 503, body: { status: 'pending' } });

  const failing = migrator.up();
  t.is(readiness.state, 'migrating');
  t.deepEqual(await get(health), { status: 503, body: { status: 'migrating' } });
  await t.throwsAsync(failing, { instanceOf: MigrationFailedError, code: 'MIGRATION_FAILED' });
  t.is(readiness.state, 'failed');
  t.true(readiness.error instanceof MigrationFailedError);
  t.deepEqual(await get(health), {
    status: 503,
    body: { status: 'failed', error: 'MIGRATION_FAILED' },
  });
  await t.throwsAsync(readiness.whenReady({ rejectOnFailure: true }), {
    instanceOf: MigrationFailedError,
  });

  await writeFile(join(dir, '20260101000000_users.sql'), GOOD);
  const ready = readiness.whenReady();
  await migrator.up();
  await ready;
  t.is(readiness.state, 'ready');
  t.is(readiness.error, undefined);
  t.deepEqual(await get(health), { status: 200, body: { status: 'ready' } });

  stop.abort();
  await iterating;
  t.deepEqual(fromEvents, ['migrating', 'failed', 'migrating', 'ready']);
  t.deepEqual(fromIterator, ['pending', 'migrating', 'failed', 'migrating', 'ready']);
});

test('when runs overlap, readiness follows the latest', async (t) => {
  const readiness = new Readiness();
  const first = Promise.withResolvers<void>();
  const second = Promise.withResolvers<void>();
  readiness.track(first.promise);
  readiness.track(second.promise);
  second.resolve();
  await sleep(0);
  t.is(readiness.state, 'ready');
  first.reject(new Error('older run'));
  await sleep(0);
  t.is(readiness.state, 'ready');
});

for (const example of ['node-http', 'fastify', 'express'] as const) {
  test(`examples/servers/${example}.ts serves traffic while it migrates and gates /healthz on readiness`, async (t) => {
    const url = await createTestDatabase(t);
    const dir = await migrationsDir(t, {
      '20260101000000_users.sql':
        '-- migrate:up\ncreate table users (id int);\nselect pg_sleep(1.5);\n',
    });
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, '..', '..', 'examples', 'servers', `${example}.ts`)],
      {
        env: { ...process.env, DATABASE_URL: url, MIGRATIONS_DIR: dir, PORT: '0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = once(child, 'exit');
    t.teardown(() => child.kill('SIGKILL'));
    const lines = createInterface({ input: child.stdout });
    const seen: unknown[] = [];
    let port: number | undefined;
    const readinessLog: string[] = [];
    const reading = (async () => {
      for await (const line of lines) {
        const message = JSON.parse(line) as { listening?: number; readiness?: string };
        seen.push(message);
        if (message.listening !== undefined) port = message.listening;
        if (message.readiness !== undefined) readinessLog.push(message.readiness);
      }
    })();
    while (port === undefined) {
      if (child.exitCode !== null) t.fail(`the example exited early: ${JSON.stringify(seen)}`);
      await sleep(20);
    }
    const base = `http://127.0.0.1:${port}`;
    // pg_sleep(1.5) keeps the migration running while the server answers.
    const early = await get(`${base}/healthz`);
    t.is(early.status, 503);
    t.is((await get(`${base}/`)).status, 200);
    let health = early;
    for (let attempt = 0; attempt < 300 && health.status !== 200; attempt += 1) {
      await sleep(50);
      health = await get(`${base}/healthz`);
    }
    t.deepEqual(health, { status: 200, body: { status: 'ready' } });
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    await reading;
    t.is(code, 0);
    t.deepEqual(readinessLog, ['migrating', 'ready']);
  });
}
