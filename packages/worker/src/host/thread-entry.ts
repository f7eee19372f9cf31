/** Where the modules that run in a worker thread are: the host loads them by URL, never imports them. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { moduleUrl, WorkerEntryNotFoundError } from '@offloop/core';

type ThreadModule = 'worker-boot' | 'cancel-entry';

/**
 * Set by the published build (`scripts/bundle.ts`), which bundles this module into
 * `dist/index.js`: `thread/` is then beside it, not beside `host/`.
 */
declare const OFFLOOP_THREAD_DIR: string | undefined;

/** Where `thread/` is relative to this module. */
const THREAD_DIR = typeof OFFLOOP_THREAD_DIR === 'string' ? OFFLOOP_THREAD_DIR : '../thread/';

/** Entries found on disk once, so that a call does not look again. */
const found = new Set<ThreadModule>();

/**
 * The URL of a module in `thread/` (the source or its built form, like this module). Checked to
 * exist: bundled into an application, this module's URL is the bundle's, and the thread's file is
 * not beside it; the error says to keep the library external instead of a failure deep in Piscina.
 */
export function threadEntry(name: ThreadModule): string {
  const url = moduleUrl(`${THREAD_DIR}${name}`, import.meta.url);
  if (!found.has(name)) {
    const file = fileURLToPath(url);
    if (!existsSync(file)) {
      const loadedFrom = fileURLToPath(import.meta.url);
      throw new WorkerEntryNotFoundError(
        `offloop's worker thread file ${file} does not exist. @offloop/worker is loaded from ` +
          `${loadedFrom}, which looks like a bundle: keep the library out of it ` +
          '(esbuild --external:@offloop/worker, or --packages=external) and ship node_modules ' +
          'with the bundle. See docs/servers.md, "Bundling".',
        { file, loadedFrom },
      );
    }
    found.add(name);
  }
  return url.href;
}
