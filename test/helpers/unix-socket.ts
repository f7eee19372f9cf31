/**
 * PostgreSQL through a Unix-domain socket, whatever server the tests use: a socket file named as
 * libpq names it (`<dir>/.s.PGSQL.<port>`) that forwards every connection to the TCP server of
 * `TEST_DATABASE_URL`.
 */
import type { ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { adminDatabaseUrl } from './database.ts';

/** A socket directory and the port in its socket file's name. */
export type SocketDirectory = { readonly dir: string; readonly port: number };

/**
 * Listen on `<dir>/.s.PGSQL.<port>` (by default a fresh directory and the server's own port),
 * forwarding to the test server; closed when the test ends.
 */
export async function socketDirectory(
  t: ExecutionContext,
  options: { dir?: string; port?: number } = {},
): Promise<SocketDirectory> {
  const server = new URL(adminDatabaseUrl());
  const target = {
    host: server.hostname.replace(/^\[|\]$/g, ''),
    port: Number(server.port || 5432),
  };
  // Short: a socket path may hold about 100 bytes.
  const dir = options.dir ?? (await mkdtemp('/tmp/offloop-sock-'));
  const port = options.port ?? target.port;
  const path = join(dir, `.s.PGSQL.${port}`);
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(path, resolve);
  });
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await rm(options.dir === undefined ? dir : path, { recursive: true, force: true });
  });
  return { dir, port };
}
