// Express: serve traffic, migrate in the background, gate /healthz on readiness.
// Run: DATABASE_URL=postgres://... node examples/servers/express.ts
import express from 'express';
import { createMigrator, healthCheck } from '@offloop/worker';

const migrator = createMigrator({
  url: process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  dir: process.env['MIGRATIONS_DIR'] ?? new URL('../migrations', import.meta.url).pathname,
});

const app = express();
// Express's request and response are node:http's, so the node:http handler fits as is.
app.get('/healthz', healthCheck(migrator.readiness));
app.get('/', (_request, response) => {
  response.send('hello\n');
});

migrator.readiness.addEventListener('change', () =>
  console.log(
    JSON.stringify({ readiness: migrator.readiness.state, error: migrator.readiness.errorCode }),
  ),
);

const shutdown = new AbortController();
const server = app.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: (server.address() as { port: number }).port }));
});
process.once('SIGTERM', () => {
  shutdown.abort();
  server.close();
});

migrator
  .up({ signal: shutdown.signal })
  .catch(() => undefined)
  .finally(() => migrator.close());
