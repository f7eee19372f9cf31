// Fastify: serve traffic, migrate in the background, gate /healthz on readiness.
// Run: DATABASE_URL=postgres://... node examples/servers/fastify.ts
import Fastify from 'fastify';
import { createMigrator, healthStatus } from '@offloop/worker';

const migrator = createMigrator({
  url: process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  dir: process.env['MIGRATIONS_DIR'] ?? new URL('../migrations', import.meta.url).pathname,
});

const app = Fastify();
app.get('/healthz', async (_request, reply) => {
  const { statusCode, body } = healthStatus(migrator.readiness);
  return reply.code(statusCode).header('cache-control', 'no-store').send(body);
});
app.get('/', async () => 'hello\n');

migrator.readiness.addEventListener('change', () =>
  console.log(
    JSON.stringify({ readiness: migrator.readiness.state, error: migrator.readiness.errorCode }),
  ),
);

const shutdown = new AbortController();
process.once('SIGTERM', () => {
  shutdown.abort();
  void app.close();
});

await app.listen({ port: Number(process.env['PORT'] ?? 3000), host: '127.0.0.1' });
console.log(JSON.stringify({ listening: (app.server.address() as { port: number }).port }));

migrator
  .up({ signal: shutdown.signal })
  .catch(() => undefined)
  .finally(() => migrator.close());
