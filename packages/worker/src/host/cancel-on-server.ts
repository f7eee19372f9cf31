/**
 * Cancel what a dead or terminated thread left running on the server, from a fresh thread
 * (`thread/cancel-entry.ts`; the host never loads a database driver).
 */
import { messageOf, versionTableOf, type ResolvedConfig } from '@offloop/core';
import { Piscina } from 'piscina';
import type { CancelRequest, CancelResponse } from '../protocol.ts';
import type { InFlight } from './crash.ts';
import { threadEntry } from './thread-entry.ts';

/** How long the cancel thread waits for cancelled backends to exit before terminating them. */
const CANCEL_WAIT_MS = 1_000;

/**
 * Cancel the backends tagged with `runTag` and, when a migration was running, find out what
 * became of it and log `logLine` for it. Best effort: failures come back in `errors`.
 */
export async function cancelOnServer(
  config: ResolvedConfig,
  runTag: string,
  running: InFlight | null,
  logLine: string,
): Promise<CancelResponse> {
  const request: CancelRequest = {
    urls:
      config.lockUrl === null || config.lockUrl === config.url
        ? [config.url]
        : [config.url, config.lockUrl],
    runTag,
    connectTimeoutMs: config.connectTimeout,
    waitMs: CANCEL_WAIT_MS,
    crash: running === null ? undefined : crashRecord(config, running, logLine),
  };
  const cancelPool = new Piscina({
    filename: threadEntry('cancel-entry'),
    minThreads: 0,
    maxThreads: 1,
  });
  try {
    return (await cancelPool.run(request)) as CancelResponse;
  } catch (error) {
    return {
      cancelled: [],
      terminated: [],
      errors: [messageOf(error)],
    };
  } finally {
    await cancelPool.destroy();
  }
}

function crashRecord(
  config: ResolvedConfig,
  running: InFlight,
  error: string,
): NonNullable<CancelRequest['crash']> {
  return {
    url: config.url,
    versionTable: versionTableOf(config),
    appliedBy: config.appliedBy,
    migration: {
      version: running.version,
      name: running.name,
      file: running.file,
      direction: running.direction,
      transactional: running.transactional,
      checksum: running.checksum,
    },
    error,
    durationMs: Math.round(performance.now() - running.startedAt),
  };
}
