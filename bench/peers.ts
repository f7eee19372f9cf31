/**
 * What bench/cold-start.ts and bench/scale.ts share: offloop packed and installed as a user
 * installs it, beside node-pg-migrate and dbmate, in a fresh npm project; a database per tool and
 * scenario; migration files in each tool's format; timed child processes; interleaved rounds; a
 * markdown table and `ok`/`not ok` checks.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { median, rotate } from './stats.ts';

const root = path.join(import.meta.dirname, '..');

/** offloop's packages, in the order `npm install` gets their tarballs. */
const PACKAGES = ['core', 'worker', 'embedded-postgres', 'testing', 'cli'] as const;

/** The peers' versions, as issue 14 measured them. */
const PEERS = ['node-pg-migrate@9.0.0', 'dbmate@2.36.0', 'pg'] as const;

/** The admin connection: `--url`, else `BENCH_DATABASE_URL`, else the local server. */
export function adminUrl(flag: string | undefined): string {
  return flag ?? process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

/**
 * The environment a user's shell would have: without the workspace's `offloop-source` condition
 * (NODE_OPTIONS, which would point the packages at sources a tarball does not ship), the test's
 * variables and pnpm's `npm_package_*`. The project's Node 24 stays first on PATH.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    npm_config_update_notifier: 'false',
  };
  for (const key of ['NODE_OPTIONS', 'TEST_DATABASE_URL', 'DATABASE_URL', 'BENCH_DATABASE_URL'])
    delete env[key];
  for (const key of Object.keys(env)) if (key.startsWith('npm_package_')) delete env[key];
  return { ...env, ...extra };
}

/** A finished child process: exit code, output, wall time from spawn to exit (ms). */
export type Run = { code: number | null; stdout: string; stderr: string; ms: number };

/**
 * Run a command to completion, timed from just before `spawn` to its `exit` (its output is
 * collected, not printed). Never throws: callers check `code` (see {@link ok}).
 */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const started = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let ms = NaN;
    child.on('exit', () => (ms = performance.now() - started));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) =>
      resolve({ code: -1, stdout, stderr: `${stderr}${String(error)}`, ms }),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr, ms }));
  });
}

/** `result`, or an error with its output when it did not exit 0. */
export function ok(result: Run, what: string): Run {
  if (result.code !== 0)
    throw new Error(`${what} exited ${String(result.code)}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** Where each tool's command line lives in the install. */
export type Install = {
  /** The npm project (`npm init -y`) everything is installed into. */
  readonly dir: string;
  /** `offloop`'s bin script (run with this Node). */
  readonly offloop: string;
  /** node-pg-migrate's bin script (run with this Node). */
  readonly nodePgMigrate: string;
  /** dbmate's platform binary (what its npm launcher spawns; run directly). */
  readonly dbmate: string;
};

/**
 * Pack offloop's packages with pnpm (as `pnpm publish` would build them) in `checkout` (this one
 * by default) and install the tarballs with the peers into a fresh npm project under `work`, as a
 * user would.
 */
export async function installPeers(work: string, checkout: string = root): Promise<Install> {
  const packs = path.join(work, 'packs');
  const dir = path.join(work, 'project');
  await mkdir(packs, { recursive: true });
  await mkdir(dir, { recursive: true });
  const tarballs: string[] = [];
  for (const name of PACKAGES) {
    const packed = ok(
      await run('pnpm', ['-C', path.join('packages', name), 'pack', '--pack-destination', packs], {
        cwd: checkout,
      }),
      `pnpm pack (${name}) in ${checkout}`,
    );
    const tarball = packed.stdout.trim().split('\n').at(-1) ?? '';
    if (!tarball.endsWith('.tgz') || !existsSync(tarball))
      throw new Error(`no tarball for ${name}: ${packed.stdout}`);
    tarballs.push(tarball);
  }
  ok(await run('npm', ['init', '-y'], { cwd: dir }), 'npm init -y');
  ok(
    await run('npm', ['install', '--no-audit', '--no-fund', ...tarballs, ...PEERS], { cwd: dir }),
    'npm install',
  );
  return installedAt(dir);
}

/** The tools of an install made earlier by {@link installPeers}. */
export function installedAt(dir: string): Install {
  const modules = path.join(dir, 'node_modules');
  const install = {
    dir,
    offloop: path.join(modules, 'offloop', 'dist', 'bin.js'),
    nodePgMigrate: path.join(modules, 'node-pg-migrate', 'bin', 'node-pg-migrate.js'),
    dbmate: path.join(modules, '@dbmate', `${process.platform}-${process.arch}`, 'bin', 'dbmate'),
  };
  for (const file of [install.offloop, install.nodePgMigrate, install.dbmate])
    if (!existsSync(file)) throw new Error(`not installed: ${file}`);
  return install;
}

/** A fresh temporary directory for a run. */
export async function workDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
}

/** Remove a run's {@link workDir}. */
export const removeWorkDir = (dir: string): Promise<void> =>
  rm(dir, { recursive: true, force: true });

/** Run `sql` on `url` with a short-lived client; the rows. */
export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

/**
 * The databases of one bench run on the admin server: each created empty (named after the run
 * and a purpose), all dropped by {@link Databases.dropAll}.
 */
export class Databases {
  readonly #admin: string;
  readonly #prefix: string;
  readonly #created: string[] = [];

  constructor(admin: string, prefix: string) {
    this.#admin = admin;
    this.#prefix = `${prefix}_${String(process.pid)}`;
  }

  /** A fresh, empty database; its URL. */
  async create(purpose: string): Promise<string> {
    const name = `${this.#prefix}_${purpose.replace(/\W/g, '_')}_${String(this.#created.length)}`;
    await query(this.#admin, `create database ${pg.escapeIdentifier(name)}`);
    this.#created.push(name);
    const url = new URL(this.#admin);
    url.pathname = `/${name}`;
    return url.href;
  }

  async dropAll(): Promise<void> {
    for (const name of this.#created.splice(0))
      await query(this.#admin, `drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  }
}

/** One migration, the same SQL for every tool. */
export type Migration = { readonly version: string; readonly name: string; readonly up: string };

/** `count` versions a minute apart from 2024-01-01 00:00:00 UTC, as `YYYYMMDDHHMMSS`. */
export function versions(count: number): string[] {
  const start = Date.UTC(2024, 0, 1);
  return Array.from({ length: count }, (_, i) =>
    new Date(start + i * 60_000).toISOString().replace(/\D/g, '').slice(0, 14),
  );
}

/** The file formats: offloop and dbmate share theirs; node-pg-migrate has its own markers. */
export type Format = 'dbmate' | 'node-pg-migrate';

/** Write `migrations` into `dir` (created) in `format`: `<version>_<name>.sql` each. */
export async function writeMigrations(
  dir: string,
  format: Format,
  migrations: readonly Migration[],
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const { version, name, up } of migrations) {
    const text =
      format === 'dbmate'
        ? `-- migrate:up\n${up.trim()}\n\n-- migrate:down\n`
        : `-- Up Migration\n${up.trim()}\n\n-- Down Migration\n`;
    await writeFile(path.join(dir, `${version}_${name}.sql`), text);
  }
}

/**
 * `count` tiny migrations: a table, then one row each (a history as long as you like that the
 * server applies in no time). {@link itemsApplied} checks them.
 */
export function tinyMigrations(count: number): Migration[] {
  return versions(count).map((version, i) =>
    i === 0
      ? { version, name: 'create_items', up: 'create table bench_items (id int primary key);' }
      : {
          version,
          name: `item_${String(i)}`,
          up: `insert into bench_items (id) values (${String(i)});`,
        },
  );
}

/** The tools whose migrations the benches run, and their version tables. */
export type Tool = 'offloop' | 'node-pg-migrate' | 'dbmate';
export const TOOLS: readonly Tool[] = ['offloop', 'node-pg-migrate', 'dbmate'];
const VERSION_TABLE: Record<Tool, string> = {
  offloop: 'offloop_migrations',
  'node-pg-migrate': 'pgmigrations',
  dbmate: 'schema_migrations',
};

/** The migration files' format `tool` reads. */
export const formatOf = (tool: Tool): Format => (tool === 'node-pg-migrate' ? tool : 'dbmate');

/** Rows in `tool`'s version table (0 when it does not exist). */
export async function versionRows(url: string, tool: Tool): Promise<number> {
  const [row] = await query<{ n: number | null }>(
    url,
    `select case when to_regclass('${VERSION_TABLE[tool]}') is null then null else 1 end as n`,
  );
  if (row?.n === null) return 0;
  const [count] = await query<{ n: number }>(
    url,
    `select count(*)::int as n from ${VERSION_TABLE[tool]}`,
  );
  return count?.n ?? 0;
}

/** Whether `count` {@link tinyMigrations} are applied on `url` by `tool`: rows and versions. */
export async function itemsApplied(url: string, tool: Tool, count: number): Promise<boolean> {
  const [row] = await query<{ n: number }>(url, 'select count(*)::int as n from bench_items');
  return row?.n === count - 1 && (await versionRows(url, tool)) === count;
}

/** A command line: what to spawn, with which arguments and extra environment. */
export type Command = { command: string; args: string[]; env?: NodeJS.ProcessEnv };

/** `tool`'s `up` (offloop's `status` with `op: 'status'`) on `url` with the files in `dir`. */
export function toolCommand(
  install: Install,
  tool: Tool,
  url: string,
  dir: string,
  op: 'up' | 'status' = 'up',
): Command {
  switch (tool) {
    case 'offloop':
      return { command: process.execPath, args: [install.offloop, op, '--url', url, '--dir', dir] };
    case 'node-pg-migrate':
      return {
        command: process.execPath,
        args: [install.nodePgMigrate, 'up', '--migrations-dir', dir],
        env: { DATABASE_URL: url },
      };
    case 'dbmate': {
      const dbmateUrl = new URL(url);
      dbmateUrl.searchParams.set('sslmode', 'disable');
      return {
        command: install.dbmate,
        args: ['--url', dbmateUrl.href, '--migrations-dir', dir, '--no-dump-schema', 'up'],
      };
    }
  }
}

/** Run `command` in the install; its result, throwing unless it exited 0. */
export async function runIn(install: Install, command: Command, what: string): Promise<Run> {
  return ok(
    await run(command.command, command.args, { cwd: install.dir, env: cleanEnv(command.env) }),
    what,
  );
}

/**
 * Interleaved rounds: each round runs every key once, in an order rotated by the round, so that
 * no tool always goes first (or after the same neighbour). The samples per key.
 */
export async function interleave<K extends string>(
  rounds: number,
  keys: readonly K[],
  sample: (key: K, round: number) => Promise<number>,
): Promise<Record<K, number[]>> {
  const samples = Object.fromEntries(keys.map((key) => [key, [] as number[]])) as Record<
    K,
    number[]
  >;
  for (let round = 0; round < rounds; round += 1)
    for (const key of rotate(keys, round)) samples[key].push(await sample(key, round));
  return samples;
}

/** Medians of each key's samples. */
export const medians = <K extends string>(samples: Record<K, number[]>): Record<K, number> =>
  Object.fromEntries(
    Object.entries<number[]>(samples).map(([key, values]) => [key, median(values)]),
  ) as Record<K, number>;

/** A markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Milliseconds for a table cell: `-` when not measured. */
export const ms = (value: number | undefined): string =>
  value === undefined || Number.isNaN(value) ? '-' : `${Math.round(value).toLocaleString('en')} ms`;

/** The `--check` verdicts of a run: printed `ok - ...`/`not ok - ...`, failing the process. */
export class Checks {
  #failed = 0;
  #passed = 0;

  /** Record one check. */
  check(name: string, holds: boolean, detail: string): void {
    if (holds) this.#passed += 1;
    else this.#failed += 1;
    console.log(`${holds ? 'ok' : 'not ok'} - ${name}: ${detail}`);
  }

  /** Print the summary line and set the exit code. */
  finish(): void {
    console.log(`${String(this.#passed)} passed, ${String(this.#failed)} failed`);
    if (this.#failed > 0) process.exitCode = 1;
  }
}

/**
 * The machine, for the report: CPUs, Node, the server's PostgreSQL, and the load average (other
 * work on a 2-CPU machine moves every number; a report says what it ran beside).
 */
export async function machine(admin: string): Promise<string> {
  const [row] = await query<{ version: string }>(
    admin,
    "select current_setting('server_version') as version",
  );
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  return (
    `${String(cpus.length)} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ` +
    `PostgreSQL ${row?.version ?? '?'} at ${new URL(admin).host}, load average ${load}`
  );
}
