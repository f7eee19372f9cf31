/**
 * The running postmaster: started with a timeout, shut down by signals (fast, then quit, then
 * kill), and asked to shut down if the process exits while it still runs.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { EmbeddedPostgresError } from '@offloop/core';
import { errorSuffix } from './failure.ts';
import type { PostgresServer } from './postgres-process.ts';
import type { EmbeddedPostgres } from './server.ts';

const START_TIMEOUT_MS = 60_000;
/** After a fast shutdown request (SIGINT), how long to wait before SIGQUIT, then SIGKILL. */
const STOP_ESCALATION_MS = [10_000, 5_000] as const;

/** Start the postmaster, bounded: a server that never says it is ready fails after a minute. */
export async function startWithTimeout(
  server: PostgresServer,
  port: number,
  flags: readonly string[],
  dataDir: string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      server.start(port, flags),
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

/**
 * The postmasters this process started and has not stopped, and the one `exit` listener that asks
 * them to shut down: listening while one runs, so that they do not outlive the process.
 */
class RunningServers {
  readonly #children = new Set<ChildProcess>();
  // Only synchronous work is possible in `exit`: ask the servers that were not stopped to shut
  // down. Their data directories stay behind.
  readonly #onExit = (): void => {
    for (const postmaster of this.#children) postmaster.kill('SIGINT');
  };

  add(child: ChildProcess): void {
    this.#children.add(child);
    if (!process.listeners('exit').includes(this.#onExit)) process.on('exit', this.#onExit);
  }

  delete(child: ChildProcess): void {
    this.#children.delete(child);
  }

  /** Stop listening for `exit` once no server runs. */
  releaseIfNone(): void {
    if (this.#children.size === 0) process.removeListener('exit', this.#onExit);
  }
}

/** One per process (per copy of this module), as the `exit` listener it keeps. */
const running = new RunningServers();

/** Shut the postmaster down and wait for it: fast shutdown, then quit, then kill. */
export async function shutdown(server: PostgresServer): Promise<void> {
  const child = server.process;
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
    server.process = undefined;
    running.delete(child);
  }
}

/** The handle of a started server: its URL, and a `stop()` that may be called more than once. */
export function handle(
  server: PostgresServer,
  info: { port: number; dataDir: string; password: string; persistent: boolean; version: string },
): EmbeddedPostgres {
  const child = server.process;
  if (child !== undefined) running.add(child);
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
        running.releaseIfNone();
      }
    })();
    return stopping;
  };
  const host = `127.0.0.1:${String(info.port)}`;
  return {
    url: `postgres://postgres:${encodeURIComponent(info.password)}@${host}/postgres`,
    port: info.port,
    dataDir: info.dataDir,
    version: info.version,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
