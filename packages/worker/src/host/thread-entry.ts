/** Where the modules that run in a worker thread are: the host loads them by URL, never imports them. */

// Inside the workspace the TypeScript source runs directly; the published package runs dist/*.js.
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** The URL of a module in `thread/` (the source or its built form, like this module). */
export function threadEntry(name: 'worker-boot' | 'cancel-entry'): string {
  return new URL(`../thread/${name}${EXTENSION}`, import.meta.url).href;
}
