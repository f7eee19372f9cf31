/**
 * The shared embedded PostgreSQL of the test harness, used when no URL is given: one server per
 * project directory, shared by every test file (ava's worker threads or processes) and kept
 * warm between test runs, so that templates built by one run are reused by the next.
 *
 * A detached keeper process ({@link file://./server-keeper.ts}) owns the server: it starts it
 * (data in `<dir>/pg`, kept), writes `<dir>/server.json`, and stops it once no client has been
 * connected for `idleTimeout`. Starting and stopping happen under `<dir>/start.lock` (created
 * with `O_EXCL`), so two test files never start two servers on one data directory.
 */
import { EmbeddedPostgresError, moduleUrl, poll } from '@offloop/core';
import { spawn } from 'node:child_process';
import { chmod, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import path from 'node:path';

/** What the keeper writes once the server accepts connections. */
export type ServerState = {
  readonly keeperPid: number;
  readonly url: string;
  readonly port: number;
};

const START_TIMEOUT_MS = 120_000;
const POLL_MS = 100;

const KEEPER_FILE = moduleUrl('./server-keeper', import.meta.url);

/** Paths of the shared server's files under `dir`. */
export function serverPaths(dir: string): {
  state: string;
  lock: string;
  log: string;
  data: string;
} {
  return {
    state: path.join(dir, 'server.json'),
    lock: path.join(dir, 'start.lock'),
    log: path.join(dir, 'keeper.log'),
    data: path.join(dir, 'pg'),
  };
}

/** The URL of the shared server in `dir`, starting it (through a keeper process) if none runs. */
export async function ensureSharedServer(options: {
  dir: string;
  idleTimeout: number;
}): Promise<string> {
  const paths = serverPaths(options.dir);
  // As root the server runs as `postgres`, which must traverse to the data directory.
  await mkdir(options.dir, { recursive: true });
  await chmod(options.dir, 0o755);
  const deadline = Date.now() + START_TIMEOUT_MS;
  const found = await poll(
    async (): Promise<string | null> => {
      const state = await readServerState(paths.state);
      if (state !== null && isAlive(state.keeperPid) && (await accepts(state.port)))
        return state.url;
      if (!(await tryLock(paths.lock))) return null;
      try {
        const again = await readServerState(paths.state);
        if (again !== null && isAlive(again.keeperPid) && (await accepts(again.port)))
          return again.url;
        return await startKeeper(options, paths, deadline);
      } finally {
        await unlink(paths.lock).catch(() => undefined);
      }
    },
    { until: (url) => url !== null, intervalMs: POLL_MS, timeoutMs: START_TIMEOUT_MS },
  );
  if (found.value !== null) return found.value;
  throw new EmbeddedPostgresError(
    `The shared test server in ${options.dir} did not become available ` +
      `within ${String(START_TIMEOUT_MS)} ms.`,
    { dataDir: paths.data, reason: 'timeout' },
  );
}

async function startKeeper(
  options: { dir: string; idleTimeout: number },
  paths: ReturnType<typeof serverPaths>,
  deadline: number,
): Promise<string> {
  await unlink(paths.state).catch(() => undefined);
  const log = await open(paths.log, 'w');
  let exited: string | null = null;
  try {
    const child = spawn(
      process.execPath,
      [KEEPER_FILE.pathname, options.dir, String(options.idleTimeout)],
      {
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
      },
    );
    child.once('exit', (code, signal) => {
      exited = `exit code ${String(code)}, signal ${String(signal)}`;
    });
    child.unref();
    // Until the keeper writes its state, exits, or the caller's deadline passes.
    const { value: state } = await poll(() => readServerState(paths.state), {
      until: (state) => state?.keeperPid === child.pid || exited !== null,
      intervalMs: POLL_MS,
      timeoutMs: deadline - Date.now(),
    });
    if (state !== null && state.keeperPid === child.pid) return state.url;
  } finally {
    await log.close();
  }
  const output = await readFile(paths.log, 'utf8').catch(() => '');
  const tail = output === '' ? '' : `\n${output.trim().split('\n').slice(-20).join('\n')}`;
  throw new EmbeddedPostgresError(
    `The shared test server in ${options.dir} did not start (${exited ?? 'timeout'}).${tail}`,
    { dataDir: paths.data, reason: exited ?? 'timeout' },
  );
}

async function readServerState(file: string): Promise<ServerState | null> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as Partial<ServerState>;
    if (
      typeof value.keeperPid === 'number' &&
      typeof value.url === 'string' &&
      typeof value.port === 'number'
    ) {
      return { keeperPid: value.keeperPid, url: value.url, port: value.port };
    }
    return null;
  } catch {
    return null;
  }
}

/** Take the start lock; a lock left by a process that died is removed. */
export async function tryLock(file: string): Promise<boolean> {
  try {
    const handle = await open(file, 'wx');
    await handle.writeFile(String(process.pid));
    await handle.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
  // An empty file is a lock being written right now; only a dead holder's lock is stale.
  if (Number.isInteger(holder) && holder > 0 && !isAlive(holder))
    await unlink(file).catch(() => undefined);
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => done(true));
  });
}
