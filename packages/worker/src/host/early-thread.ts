/**
 * A migration thread started before its migrator exists, for a process whose first job is to
 * migrate: the CLI starts one before it loads its own modules and reads its configuration, so
 * that the thread boots (tens of milliseconds of Node's own start-up, then the engine's modules)
 * while the main thread does that work. The first migrator with default thread settings takes it
 * ({@link takeEarlyThread}); one that needs other settings ends it.
 *
 * Imports nothing of `@offloop/core`: it must not wait for what it is meant to overlap.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

/**
 * Set by the published build (`scripts/bundle.ts`), as in `thread-entry.ts`: `thread/` is beside
 * the bundle, not beside `host/`.
 */
declare const OFFLOOP_THREAD_DIR: string | undefined;

/** The thread's Piscina options, as `worker-thread.ts` makes them. */
export type ThreadOptions = {
  readonly filename: string;
  readonly resourceLimits?: Piscina['options']['resourceLimits'];
};

let early: { readonly pool: Piscina; readonly filename: string } | null = null;

/**
 * Start the migration thread now, ahead of `createMigrator`. Does nothing when one was started
 * already, or when the thread's file is not where it should be (`createMigrator` then reports
 * that, with its typed error).
 */
export function startEarlyThread(): void {
  if (early !== null) return;
  const dir = typeof OFFLOOP_THREAD_DIR === 'string' ? OFFLOOP_THREAD_DIR : '../thread/';
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const url = new URL(`${dir}worker-boot${extension}`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) return;
  // One thread, started at once (minThreads), as the migrator's own pool would run it.
  const pool = new Piscina({
    filename: url.href,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
  });
  early = { pool, filename: url.href };
}

/**
 * The early thread's pool, if there is one and it runs as `options` ask (no resource limits, the
 * same file); else null, and an early thread that does not fit is ended.
 */
export function takeEarlyThread(options: ThreadOptions): Piscina | null {
  const taken = early;
  early = null;
  if (taken === null) return null;
  if (options.resourceLimits === undefined && options.filename === taken.filename)
    return taken.pool;
  void taken.pool.destroy();
  return null;
}
