// How a run reads its ledger. `up` asks the server to compare the version table with the files
// (a digest) and reads its rows only when they differ; the log's unresolved failures are found
// without sorting the whole history. Each check against a real database.
import test from '../helpers/limited-test.ts';
import {
  discoverMigrations,
  ledgerDigest,
  readAppliedUnless,
  raw,
  readDirty,
  withConnection,
} from '@offloop/core/engine';
import { ChecksumMismatchError, MigrationFileMissingError } from '@offloop/core';
import { createMigrator } from '@offloop/worker';
import { writeFile, unlink } from 'node:fs/promises';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { ExecutionContext } from 'ava';
import path from 'node:path';
import { sql } from 'slonik';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const LEDGER = { schema: 'public', table: 'offloop_migrations' } as const;

const files = {
  '20260101000000_first.sql': '-- migrate:up\ncreate table first (id int);\n',
  '20260102000000_second.sql': '-- migrate:up\ncreate table second (id int);\n',
  '20260103000000_third.sql': '-- migrate:up\ncreate table third (id int);\n',
};

test('a version table that holds exactly the files is not read row by row; any difference is', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, files);
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  const read = (list: Parameters<typeof readAppliedUnless>[2]) =>
    withConnection(url, 5_000, (db) => readAppliedUnless(db, LEDGER, list));
  const found = await discoverMigrations(dir, { cache: null });
  t.is(await read(found), 'matches');
  // The files in another order: the digest sorts them as the server does.
  t.is(await read([...found].reverse()), 'matches');

  // A file the database does not hold (pending), one it holds that is gone, a changed checksum,
  // a renamed file: every row comes back, with its time, duration and author.
  const pending = [
    ...found,
    { version: '20260104000000', name: 'fourth', checksum: 'a'.repeat(64) },
  ];
  for (const list of [
    pending,
    found.slice(1),
    found.map((file, i) => (i === 1 ? { ...file, checksum: 'b'.repeat(64) } : file)),
    found.map((file, i) => (i === 2 ? { ...file, name: 'renamed' } : file)),
  ]) {
    const rows = await read(list);
    if (rows === 'matches') return t.fail('a difference was taken for a match');
    t.deepEqual(
      rows.map((row) => row.version),
      ['20260101000000', '20260102000000', '20260103000000'],
    );
    t.regex(rows[0]?.appliedAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    t.true(rows.every((row) => row.appliedBy.length > 0));
  }

  // The server's digest is the one the files give: their count, then one line each.
  const digest = await withPool(url, (pool) =>
    pool.oneFirst(sql.unsafe`
      select encode(sha256(convert_to(count(*)::text || E'\n' || string_agg(
        version || ' ' || name || ' ' || checksum, E'\n' order by version collate "C"), 'UTF8')),
        'hex') from offloop_migrations`),
  );
  t.is(digest, ledgerDigest(found));

  // Rows whose fields hold the separators cannot pass for other rows: one row that spells two
  // files' lines is not a match for them.
  const [first, second] = found;
  if (first === undefined || second === undefined) return t.fail('two files expected');
  await withPool(url, async (pool) => {
    await pool.query(sql.unsafe`delete from offloop_migrations where version <> ${first.version}`);
    await pool.query(
      sql.unsafe`update offloop_migrations set checksum = ${`${first.checksum}\n${second.version} ${second.name} ${second.checksum}`}`,
    );
  });
  t.not(await read([first, second]), 'matches');
});

test('an empty version table matches no files, and gives no rows for some', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, files);
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  await withPool(url, (pool) => pool.query(sql.unsafe`delete from offloop_migrations`));
  const found = await discoverMigrations(dir, { cache: null });
  await withConnection(url, 5_000, async (db) => {
    t.is(await readAppliedUnless(db, LEDGER, []), 'matches');
    t.deepEqual(await readAppliedUnless(db, LEDGER, found), []);
  });
});

test('up on an up-to-date database still refuses an edited file and a file gone, and applies a new one', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, files);
  await using migrator = createMigrator({ url, dir });
  t.is((await migrator.up()).applied.length, 3);
  const noop = await migrator.up();
  t.deepEqual(noop.applied, []);
  t.is(noop.current, '20260103000000');

  await writeFile(
    path.join(dir, '20260104000000_fourth.sql'),
    '-- migrate:up\ncreate table fourth (id int);\n',
  );
  const more = await migrator.up();
  t.deepEqual(
    more.applied.map((m) => m.version),
    ['20260104000000'],
  );
  t.is(more.current, '20260104000000');

  await writeFile(
    path.join(dir, '20260102000000_second.sql'),
    '-- migrate:up\ncreate table second (id bigint);\n',
  );
  await t.throwsAsync(migrator.up(), { instanceOf: ChecksumMismatchError });
  await writeFile(path.join(dir, '20260102000000_second.sql'), files['20260102000000_second.sql']);
  t.deepEqual((await migrator.up()).applied, []);

  // A file the database holds is gone: up refuses, status says why, as before.
  await unlink(path.join(dir, '20260104000000_fourth.sql'));
  await t.throwsAsync(migrator.up(), { instanceOf: MigrationFileMissingError });
  const status = await migrator.status();
  t.true(
    status.problems.some(
      (problem) => problem.kind === 'missing' && problem.version === '20260104000000',
    ),
  );
});

test('the log: only versions with an unresolved entry are found, however long the history', async (t) => {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, files);
  await using migrator = createMigrator({ url, dir });
  await migrator.up();
  const log = (rows: string) =>
    withConnection(url, 5_000, (db) =>
      db.run(
        raw(
          'insert into offloop_migrations_log (version, name, direction, checksum, outcome, ' +
            `applied_by) values ${rows}`,
        ),
      ),
    );
  const dirty = () => withConnection(url, 5_000, (db) => readDirty(db, LEDGER));
  t.deepEqual(await dirty(), []);
  // A run that died midway; one that failed midway and was retried and failed before running
  // anything; a partial one that a later success resolved; a non-transactional one that
  // succeeded (started, then succeeded: the usual log); a partial one retried by a run that died.
  await log(
    "('20260105000000', 'died', 'up', null, 'started', 'me'), " +
      "('20260106000000', 'half', 'up', null, 'partial', 'me'), " +
      "('20260106000000', 'half', 'up', null, 'failed', 'me'), " +
      "('20260107000000', 'fixed', 'up', null, 'partial', 'me'), " +
      "('20260107000000', 'fixed', 'up', null, 'succeeded', 'me'), " +
      "('20260108000000', 'fine', 'up', null, 'started', 'me'), " +
      "('20260108000000', 'fine', 'up', null, 'succeeded', 'me'), " +
      "('20260109000000', 'again', 'up', null, 'partial', 'me'), " +
      "('20260109000000', 'again', 'up', null, 'started', 'me')",
  );
  t.deepEqual(
    (await dirty()).map((entry) => [entry.version, entry.outcome]),
    [
      ['20260105000000', 'started'],
      ['20260106000000', 'partial'],
      ['20260109000000', 'started'],
    ],
  );
});

/**
 * A TCP proxy in front of `url`'s server that counts the rows (DataRow messages) the server sends
 * through it: what a client's reads cost on the wire.
 */
async function rowCountingProxy(
  t: ExecutionContext,
  url: string,
): Promise<{ readonly url: string; readonly rows: () => number }> {
  const target = new URL(url);
  let rows = 0;
  const sockets = new Set<Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(
      Number(target.port === '' ? '5432' : target.port),
      target.hostname,
    );
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      // Every message from the server: a type byte, then a length that counts itself.
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const end = 1 + pending.readUInt32BE(1);
        if (pending.length < end) break;
        if (pending[0] === 0x44) rows += 1;
        pending = pending.subarray(end);
      }
      client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as AddressInfo).port);
  return { url: proxied.toString(), rows: () => rows };
}

test('a no-op up over a long ledger reads a few rows, where status reads them all', async (t) => {
  const url = await createTestDatabase(t);
  const count = 40;
  const many = Object.fromEntries(
    Array.from({ length: count }, (_, i) => [
      `2026010100${String(i).padStart(4, '0')}_m${String(i)}.sql`,
      `-- migrate:up\ncreate table m${String(i)} (id int);\n`,
    ]),
  );
  const dir = await migrationsDir(t, many);
  {
    await using first = createMigrator({ url, dir });
    t.is((await first.up()).applied.length, count);
  }
  const proxy = await rowCountingProxy(t, url);
  await using migrator = createMigrator({ url: proxy.url, dir });
  await migrator.status();
  let before = proxy.rows();
  const noop = await migrator.up();
  t.deepEqual(noop.applied, []);
  const upRows = proxy.rows() - before;
  t.true(upRows < count / 2, `a no-op up read ${String(upRows)} rows`);
  before = proxy.rows();
  await migrator.status();
  t.true(proxy.rows() - before >= count, 'status reads every row');
});
