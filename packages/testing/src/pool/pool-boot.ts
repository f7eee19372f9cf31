/**
 * The module the test harness starts its worker thread with: it turns on Node's compile cache for
 * this thread only (slonik and zod compiled once, read from disk by every later test file's
 * harness; as `@offloop/worker`'s `worker-boot.ts` does), then loads the harness's worker itself (`pool-entry.ts`).
 */
import module from 'node:module';

module.enableCompileCache();

// Imported after the cache is on, as everything the thread loads.
const { moduleUrl } = await import('@offloop/core');
await import(moduleUrl('./pool-entry', import.meta.url).href);
