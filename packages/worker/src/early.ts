/**
 * `@offloop/worker/early`: start the migration thread before the rest of offloop loads, for a
 * process that migrates first thing (the `offloop` CLI does). The next `createMigrator()` with
 * default thread settings takes the thread already started; nothing else changes. Loads only
 * Piscina: what it overlaps is the loading of everything else.
 *
 * @example
 * ```ts
 * import { startEarlyThread } from '@offloop/worker/early';
 * startEarlyThread();
 * const { createMigrator } = await import('@offloop/worker');
 * ```
 */
export { startEarlyThread } from './host/early-thread.ts';
