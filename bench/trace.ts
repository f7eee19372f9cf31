/**
 * What a process loads and what it asks of the server, for cold-start.ts's breakdown:
 *
 * - {@link moduleTrace}: a `--import` data: URL that registers a `load` hook (`module.registerHooks`)
 *   in every thread (worker threads inherit `--import` from `execArgv`; checked: a Piscina thread
 *   runs it) and appends each module file's URL, with the time, to a file per thread.
 * - {@link WireCounter}: a TCP proxy in front of PostgreSQL that parses the protocol's message
 *   headers: connections, simple-protocol queries, extended-protocol executes, and ReadyForQuery
 *   cycles (round trips). Counted on the wire, it is exact whichever driver the tool uses, and
 *   needs no server setting (`log_connections` needs a reload; `pg_stat_database` counters are
 *   server-wide and lag).
 */
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/** Wall-clock time in ms with sub-ms precision, comparable across processes and threads. */
export const now = (): number => performance.timeOrigin + performance.now();

/**
 * The `--import` value that records module loads into `dir`: one file per process and thread,
 * `<pid>-<threadId>.log`, whose first line is `boot <time>` (when the hook was registered, the
 * thread's bootstrap done), then `<time> <url>` per module file and `worker <time>` when this
 * thread created a worker thread (the `worker_threads` diagnostics channel, published by the
 * `Worker` constructor; a worker's `performance.timeOrigin` is the process's, so it cannot tell
 * when the thread started). The time is {@link now}'s clock. Node's built-in modules are left out.
 */
export function moduleTrace(dir: string): string {
  const code = `
import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';
import { threadId } from 'node:worker_threads';
const file = ${JSON.stringify(dir)} + '/' + process.pid + '-' + threadId + '.log';
const now = () => performance.timeOrigin + performance.now();
appendFileSync(file, 'boot ' + now() + String.fromCharCode(10));
subscribe('worker_threads', () => appendFileSync(file, 'worker ' + now() + String.fromCharCode(10)));
registerHooks({
  load(url, context, next) {
    if (url.startsWith('file:')) appendFileSync(file, now() + ' ' + url + String.fromCharCode(10));
    return next(url, context);
  },
});`;
  return `data:text/javascript,${encodeURIComponent(code)}`;
}

/** One thread's module loads, as {@link moduleTrace} recorded them. */
export type ThreadTrace = {
  readonly threadId: number;
  /** When the hook was registered: the thread's bootstrap done ({@link now}'s clock). */
  readonly boot: number;
  /** When this thread created worker threads. */
  readonly workers: readonly number[];
  readonly loads: readonly { readonly at: number; readonly url: string }[];
};

/** The threads recorded in `dir`, main thread first. */
export async function readTraces(dir: string): Promise<ThreadTrace[]> {
  const traces: ThreadTrace[] = [];
  for (const name of await readdir(dir)) {
    const match = /^\d+-(\d+)\.log$/.exec(name);
    if (match === null) continue;
    const lines = (await readFile(path.join(dir, name), 'utf8')).split('\n').filter(Boolean);
    let boot = NaN;
    const workers: number[] = [];
    const loads: { at: number; url: string }[] = [];
    for (const line of lines) {
      const [first, rest] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
      if (first === 'boot') boot = Number(rest);
      else if (first === 'worker') workers.push(Number(rest));
      else loads.push({ at: Number(first), url: rest });
    }
    traces.push({ threadId: Number(match[1]), boot, workers, loads });
  }
  return traces.sort((a, b) => a.threadId - b.threadId);
}

/**
 * The package a module file belongs to (`zod`, `@slonik/driver`, ...), or `(own)` for a file
 * outside `node_modules`. offloop's own packages count under their names like any other.
 */
export function packageOf(url: string): string {
  const parts = url.split('/node_modules/');
  const last = parts.at(-1) ?? '';
  if (parts.length === 1) return '(own)';
  const segments = last.split('/');
  return segments[0]?.startsWith('@') === true
    ? `${segments[0]}/${segments[1] ?? ''}`
    : (segments[0] ?? '');
}

/** Module files per package, most first. */
export function byPackage(loads: ThreadTrace['loads']): [string, number][] {
  const counts = new Map<string, number>();
  for (const { url } of loads) counts.set(packageOf(url), (counts.get(packageOf(url)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/** What {@link WireCounter} saw of one connection. */
export type ConnectionTrace = {
  readonly opened: number;
  closed: number;
  /** When the first ReadyForQuery arrived: the connection was set up and authenticated. */
  ready: number;
  /** ReadyForQuery messages after the first: request/response cycles. */
  roundTrips: number;
  /** Simple-protocol `Query` messages (each may hold several statements) and their text. */
  readonly queries: string[];
  /** Extended-protocol `Parse` texts and `Execute` count. */
  readonly parses: string[];
  /** Query and Parse texts in the order they were sent, each prefixed `Q: ` or `P: `. */
  readonly sent: string[];
  executes: number;
  /** When the last ReadyForQuery arrived. */
  lastReady: number;
  /** A CancelRequest instead of a session. */
  cancel: boolean;
};

/** Incoming bytes of one direction of a connection, cut into protocol messages. */
class MessageReader {
  #buffer = Buffer.alloc(0);
  /** Untyped messages still expected (the startup packet, SSL negotiation). */
  #untyped: number;
  /** A single-byte reply expected (the server's answer to an SSLRequest). */
  #singleByte = 0;

  constructor(untyped: number) {
    this.#untyped = untyped;
  }

  expectSingleByte(): void {
    this.#singleByte += 1;
  }

  expectUntyped(): void {
    this.#untyped += 1;
  }

  /**
   * The messages completed by `chunk`, as [type, body]: type '' for an untyped (startup) message,
   * '!' and the byte for a single-byte reply.
   */
  *feed(chunk: Buffer): Generator<[string, Buffer]> {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#singleByte > 0 && this.#buffer.length >= 1) {
        this.#singleByte -= 1;
        const byte = String.fromCharCode(this.#buffer[0] ?? 0);
        this.#buffer = this.#buffer.subarray(1);
        yield ['!' + byte, Buffer.alloc(0)];
        continue;
      }
      if (this.#untyped > 0) {
        if (this.#buffer.length < 4) return;
        const length = this.#buffer.readInt32BE(0);
        if (this.#buffer.length < length) return;
        this.#untyped -= 1;
        const body = this.#buffer.subarray(4, length);
        this.#buffer = this.#buffer.subarray(length);
        yield ['', body];
        continue;
      }
      if (this.#buffer.length < 5) return;
      const length = this.#buffer.readInt32BE(1);
      if (this.#buffer.length < 1 + length) return;
      const type = String.fromCharCode(this.#buffer[0] ?? 0);
      const body = this.#buffer.subarray(5, 1 + length);
      this.#buffer = this.#buffer.subarray(1 + length);
      yield [type, body];
    }
  }
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** A C string at the start of `body`. */
const cString = (body: Buffer, from = 0): string => {
  const end = body.indexOf(0, from);
  return body.toString('utf8', from, end < 0 ? body.length : end);
};

/**
 * A counting proxy in front of a PostgreSQL server. Point a tool at {@link WireCounter.url} and
 * read {@link WireCounter.connections} afterwards; {@link WireCounter.reset} between runs.
 */
export class WireCounter {
  readonly #server: net.Server;
  readonly #target: { host: string; port: number };
  #connections: ConnectionTrace[] = [];
  #open = 0;
  #idle: (() => void)[] = [];

  private constructor(server: net.Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  /** A proxy on a free local port, forwarding to the server of `url`. */
  static async start(url: string): Promise<WireCounter> {
    const target = new URL(url);
    const server = net.createServer();
    const counter = new WireCounter(server, {
      host: target.hostname,
      port: Number(target.port || 5432),
    });
    server.on('connection', (socket) => counter.#accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return counter;
  }

  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy not listening');
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(address.port);
    return proxied.href;
  }

  /** The sessions seen since the last {@link reset} (cancel requests left out). */
  get connections(): readonly ConnectionTrace[] {
    return this.#connections.filter((connection) => !connection.cancel);
  }

  reset(): void {
    this.#connections = [];
  }

  /** Resolves once every proxied connection has closed (a tool's exit can outrun its sockets). */
  idle(): Promise<void> {
    return this.#open === 0 ? Promise.resolve() : new Promise((done) => this.#idle.push(done));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    const trace: ConnectionTrace = {
      opened: now(),
      closed: NaN,
      ready: NaN,
      roundTrips: 0,
      queries: [],
      parses: [],
      sent: [],
      executes: 0,
      lastReady: NaN,
      cancel: false,
    };
    this.#connections.push(trace);
    this.#open += 1;
    const upstream = net.connect(this.#target);
    // No Nagle delay on either side: the proxy must not add waits the tools would not have.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const fromClient = new MessageReader(1);
    const fromServer = new MessageReader(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      for (const [type, body] of fromClient.feed(chunk)) {
        if (type === '') {
          const code = body.readInt32BE(0);
          if (code === SSL_REQUEST || code === GSS_REQUEST) {
            fromServer.expectSingleByte();
            fromClient.expectUntyped();
          } else if (code === CANCEL_REQUEST) trace.cancel = true;
        } else if (type === 'Q') {
          trace.queries.push(cString(body));
          trace.sent.push(`Q: ${cString(body)}`);
        } else if (type === 'P') {
          const text = cString(body, cString(body).length + 1);
          trace.parses.push(text);
          trace.sent.push(`P: ${text}`);
        } else if (type === 'E') trace.executes += 1;
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      for (const [type] of fromServer.feed(chunk)) {
        if (type !== 'Z') continue;
        if (Number.isNaN(trace.ready)) trace.ready = now();
        else trace.roundTrips += 1;
        trace.lastReady = now();
      }
    });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      trace.closed = now();
      client.destroy();
      upstream.destroy();
      this.#open -= 1;
      if (this.#open === 0) for (const done of this.#idle.splice(0)) done();
    };
    for (const socket of [client, upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  }
}

/** Totals over a run's connections. */
export function wireTotals(connections: readonly ConnectionTrace[]): {
  connections: number;
  queries: number;
  executes: number;
  roundTrips: number;
  discardAll: number;
} {
  let queries = 0;
  let executes = 0;
  let roundTrips = 0;
  let discardAll = 0;
  for (const connection of connections) {
    queries += connection.queries.length;
    executes += connection.executes;
    roundTrips += connection.roundTrips;
    discardAll += [...connection.queries, ...connection.parses].filter((text) =>
      /^\s*discard\s+all\b/i.test(text),
    ).length;
  }
  return { connections: connections.length, queries, executes, roundTrips, discardAll };
}
