// A node:http server that serves traffic at once, migrates in the background (in a worker
// thread, so requests keep their latency), and answers /healthz with 503 until the schema is
// ready. Run: DATABASE_URL=postgres://... node examples/servers/node-http.ts
import { createServer } from 'node:http';
import { createMigrator, healthCheck } from '@offloop/worker';

const migrator = createMigrator({
  url: process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  dir: process.env['MIGRATIONS_DIR'] ?? new URL('../migrations', import.meta.url).pathname,
});
const health = healthCheck(migrator.readiness);

const server = createServer((request, response) => {
  if (request.url === '/healthz') return health(request, response);
  // Routes that need the new schema can check the state themselves.
  if (request.url === '/users' && migrator.readiness.state !== 'ready') {
    response.writeHead(503, { 'retry-after': '1' }).end('schema not ready\n');
    return;
  }
  response.end('hello\n');
});

migrator.readiness.addEventListener('change', () =>
  console.log(
    JSON.stringify({ readiness: migrator.readiness.state, error: migrator.readiness.errorCode }),
  ),
);

// SIGTERM during a migration cancels it: the current migration rolls back, the lock is released.
const shutdown = new AbortController();
process.once('SIGTERM', () => {
  shutdown.abort();
  server.close();
});

server.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(JSON.stringify({ listening: port }));
});

// Failures are reported by the readiness state (and its change events); nothing is thrown here.
migrator
  .up({ signal: shutdown.signal })
  .catch(() => undefined)
  .finally(() => migrator.close());
