/**
 * The module the test harness starts its worker thread with: it turns on Node's compile cache for
 * this thread only (slonik and zod compiled once, read from disk by every later test file's
 * harness; as `@offloop/worker`'s `worker-boot.ts` does), then loads the harness's worker itself (`pool-entry.ts`).
 */
import module from 'node:module';

module.enableCompileCache();

// Inside the workspace the TypeScript source runs directly; the published package runs dist/*.js.
await import(
  new URL(`./pool-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href
);
