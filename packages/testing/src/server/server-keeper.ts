/**
 * The keeper of the test harness's shared embedded PostgreSQL, a detached process started by
 * `shared-server.ts`: `node server-keeper.ts <dir> <idleTimeoutMs>`. It starts the server, writes
 * `<dir>/server.json`, and stops the server (then exits) once no client has been connected for
 * the idle timeout. The data directory stays, with the templates in it.
 */
import { unlink, writeFile } from 'node:fs/promises';
import { createPool, sql } from 'slonik';
import { z } from 'zod';
import { poll } from '@offloop/core';
import { startEmbeddedPostgres } from '@offloop/embedded-postgres';
import { serverPaths, tryLock } from './shared-server.ts';

const CHECK_MS = 1_000;

const [dir, idle] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: server-keeper.ts <dir> <idleTimeoutMs>');
const idleTimeout = Number(idle ?? 30_000);
const paths = serverPaths(dir);

const server = await startEmbeddedPostgres({ dataDir: paths.data, persistent: true });
const pool = await createPool(server.url, {
  maximumPoolSize: 1,
  idleTimeout: 'DISABLE_TIMEOUT',
  captureStackTrace: false,
});
// A test server trades durability for speed (its data is a cache of templates): no fsync.
for (const setting of ['fsync', 'synchronous_commit', 'full_page_writes']) {
  await pool.query(sql.unsafe`alter system set ${sql.identifier([setting])} = off`);
}
await pool.query(sql.unsafe`select pg_reload_conf()`);
await writeFile(
  paths.state,
  JSON.stringify({ keeperPid: process.pid, url: server.url, port: server.port }),
);
console.log(`PostgreSQL ${server.version} on port ${String(server.port)}, data in ${paths.data}`);

const clients = () =>
  pool.oneFirst(sql.type(z.object({ n: z.coerce.number() }))`
  select count(*) as n from pg_stat_activity
  where backend_type = 'client backend' and pid <> pg_backend_pid()`);

let idleSince = Date.now();
/** Stop the server once no client has been connected for the idle timeout: whether it did. */
const stopWhenIdle = async (): Promise<boolean> => {
  if ((await clients()) > 0) {
    idleSince = Date.now();
    return false;
  }
  if (Date.now() - idleSince < idleTimeout) return false;
  // Stop under the start lock, so that no harness reads server.json and connects meanwhile.
  if (!(await tryLock(paths.lock))) return false;
  try {
    if ((await clients()) > 0) {
      idleSince = Date.now();
      return false;
    }
    await unlink(paths.state).catch(() => undefined);
    await pool.end();
    await server.stop();
    console.log('idle: stopped');
    return true;
  } finally {
    await unlink(paths.lock).catch(() => undefined);
  }
};
await poll(stopWhenIdle, { until: (stopped) => stopped, intervalMs: CHECK_MS });
