/**
 * A server bundled with esbuild, the way most Node servers are shipped: with `@offloop/worker`
 * kept external it migrates; with the library bundled in, the call fails with
 * WORKER_ENTRY_NOT_FOUND saying what to do, instead of an error from deep inside Piscina.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from '../helpers/limited-test.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const esbuild = path.join(root, 'node_modules', '.bin', 'esbuild');

/** A server's startup: migrate, then print what was applied or the error's code. */
const SERVER = `import { createMigrator } from '@offloop/worker';
await using migrator = createMigrator({ url: process.env.DATABASE_URL, dir: process.env.MIGRATIONS_DIR });
try {
  const { applied } = await migrator.up();
  console.log(JSON.stringify({ applied: applied.map((m) => m.version) }));
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}
`;

type Outcome = { applied?: string[]; code?: string; message?: string };

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Bundle SERVER with esbuild (as ESM for Node) and run the bundle against a fresh database. */
async function bundleAndRun(t: import('ava').ExecutionContext, esbuildFlags: string[]) {
  const dir = await mkdtemp(path.join(root, 'test', '.bundle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const entry = path.join(dir, 'server.mjs');
  const bundle = path.join(dir, 'dist', 'server.mjs');
  await writeFile(entry, SERVER);
  const built = await run(esbuild, [
    entry,
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--conditions=offloop-source',
    `--outfile=${bundle}`,
    // What bundling CommonJS dependencies into an ES module needs (Piscina uses require()).
    "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    ...esbuildFlags,
  ]);
  t.is(built.code, 0, built.stderr);
  const url = await createTestDatabase(t);
  const migrations = await migrationsDir(t, {
    '20260101000000_widgets.sql': '-- migrate:up\ncreate table widgets (id int);\n',
  });
  const ran = await run(process.execPath, [bundle], {
    DATABASE_URL: url,
    MIGRATIONS_DIR: migrations,
  });
  t.is(ran.code, 0, ran.stderr);
  return JSON.parse(ran.stdout) as Outcome;
}

test('bundled with @offloop/worker external, the server migrates', async (t) => {
  t.timeout(60_000);
  const outcome = await bundleAndRun(t, ['--external:@offloop/worker']);
  t.deepEqual(outcome, { applied: ['20260101000000'] });
});

test('with @offloop/worker bundled in, the call fails with WORKER_ENTRY_NOT_FOUND saying to keep it external', async (t) => {
  t.timeout(60_000);
  const outcome = await bundleAndRun(t, []);
  t.is(outcome.code, 'WORKER_ENTRY_NOT_FOUND', outcome.message);
  t.regex(outcome.message ?? '', /--external:@offloop\/worker/);
});
