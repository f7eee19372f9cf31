// A busy server that migrates in the background while it serves requests, and answers its
// health check with 503 until the schema is ready. Run it with:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node examples/server.ts
import { createServer } from 'node:http';
import { createMigrator } from '@offloop/worker';

const migrator = createMigrator({
  url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  dir: new URL('./migrations', import.meta.url).pathname,
});

let schema: 'migrating' | 'ready' | 'failed' = 'migrating';

const server = createServer((request, response) => {
  if (request.url === '/healthz') {
    response.writeHead(schema === 'ready' ? 200 : 503, { 'content-type': 'text/plain' });
    response.end(schema);
    return;
  }
  response.end('hello\n'); // requests keep their latency: the migration runs in another thread
});

server.listen(Number(process.env.PORT ?? 3000), () => {
  const { port } = server.address() as { port: number };
  console.log(`listening on http://127.0.0.1:${port}`);
});

// The server's loop is untouched: migrations are parsed and applied in a worker thread.
migrator
  .up({ onProgress: (event) => console.log('migration event', event.type) })
  .then(
    (result) => {
      schema = 'ready';
      console.log(`schema ready at ${result.current ?? 'base'} (${result.applied.length} applied)`);
    },
    (error: unknown) => {
      schema = 'failed';
      console.error('migration failed', error);
    },
  )
  .finally(() => migrator.close());

process.once('SIGTERM', () => server.close());
