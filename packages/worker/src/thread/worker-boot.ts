/**
 * The module Piscina loads in the migration worker thread. It turns on Node's compile cache for
 * this thread only (the host's module loading is untouched), so that the engine, slonik and zod
 * are compiled once and read from disk by the next thread: about 80 ms less per thread start
 * (`bench/apply-phases.ts`). Node's default place and switches apply: `NODE_COMPILE_CACHE`
 * names the directory (default `<tmpdir>/node-compile-cache`), `NODE_DISABLE_COMPILE_CACHE=1`
 * turns it off. Then it loads the worker itself.
 */
import module from 'node:module';

module.enableCompileCache();

// Imported after the cache is on, as everything the thread loads. Nothing else is imported here:
// the published bundle keeps this file small and loads worker-entry.js, the rest, from here.
const loaded = await import('./worker-entry.ts');

export default loaded.default;
export const { scan, targetsQuery, warm } = loaded;
