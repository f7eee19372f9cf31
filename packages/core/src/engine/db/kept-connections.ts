/**
 * The connections a worker thread keeps between calls: a read-only call's work connection stays
 * open for `workerIdleTimeout` after it, and the next call with the same settings takes it
 * instead of connecting (a server that asks for `status()` every few seconds connects once).
 * A kept connection is a plain session: no transaction, no work lock, nothing a migration set.
 * Thread-local, like every module's state in the worker: when the host closes the migrator the
 * thread is terminated, which closes the socket, and the idle backend exits at once.
 */
import { pgClientConfig } from './pg-client.ts';
import { WorkConnection, type WorkConnectionConfig } from './work-connection.ts';

type ConnectionConfig = WorkConnectionConfig;
type Kept = {
  readonly key: string;
  readonly connection: WorkConnection;
  readonly timer: NodeJS.Timeout;
};

const kept: Kept[] = [];

/** At most this many idle connections per thread, the oldest closed first. */
const MAX_KEPT = 4;

/**
 * What makes two calls' connections interchangeable: all but the call's `application_name` and
 * `search_path` (both set again when another call takes it, see {@link WorkConnection.adopt}).
 */
function keyOf(config: ConnectionConfig): string {
  const { application_name: _tag, ...settings } = pgClientConfig(config.url, config.connectTimeout);
  return JSON.stringify({ ...settings, statementTimeout: config.statementTimeout });
}

/** A kept connection for `config`, or a new one (connecting now, see {@link WorkConnection.open}). */
export function takeConnection(config: ConnectionConfig): WorkConnection {
  const key = keyOf(config);
  const at = kept.findIndex((entry) => entry.key === key);
  const [entry] = at === -1 ? [] : kept.splice(at, 1);
  if (entry === undefined) {
    const connection = new WorkConnection(config);
    connection.open();
    return connection;
  }
  clearTimeout(entry.timer);
  entry.connection.hold(true);
  entry.connection.adopt(config);
  return entry.connection;
}

/**
 * Keep `connection` for `keepMs` after a call, if it can serve another (see
 * {@link WorkConnection.reusable}); close it otherwise, or when `keepMs` is 0.
 */
export async function keepConnection(
  config: ConnectionConfig,
  connection: WorkConnection,
  keepMs: number,
): Promise<void> {
  if (keepMs <= 0 || !(await connection.reusable())) {
    await connection.close();
    return;
  }
  const key = keyOf(config);
  // A thread that serves many targets at once (a fleet) keeps a few, the most recent, for the
  // targets that come next: opening a connection per target costs the server more than an idle
  // one.
  const evicted = kept.length >= MAX_KEPT ? kept.shift() : undefined;
  if (evicted !== undefined) {
    clearTimeout(evicted.timer);
    void evicted.connection.close();
  }
  const timer = setTimeout(() => {
    const at = kept.findIndex((entry) => entry.connection === connection);
    if (at !== -1) kept.splice(at, 1);
    void connection.close();
  }, keepMs);
  timer.unref();
  connection.hold(false);
  kept.push({ key, connection, timer });
}
