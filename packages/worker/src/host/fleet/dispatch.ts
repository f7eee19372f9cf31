/**
 * Running many tasks at once within two bounds: how many in all, and how many per database
 * server. The next task is the first one, in order, whose server has room.
 */

/** The bounds of a dispatch, and when to stop starting new tasks. */
export type DispatchLimits<T> = {
  /** Tasks at once, in all. */
  readonly concurrency: number;
  /** Tasks at once per server. */
  readonly perServer: number;
  readonly serverOf: (item: T) => string;
  /** Checked before each start: once true, nothing more starts (what runs finishes). */
  readonly stopped: () => boolean;
};

/**
 * Run `run` on each item within `limits`, in order as far as the per-server bound allows. Resolves
 * when every started task has settled; the items never started are returned, in order.
 * `run` must not reject.
 */
export async function dispatch<T>(
  items: readonly T[],
  limits: DispatchLimits<T>,
  run: (item: T) => Promise<void>,
): Promise<T[]> {
  const queue = [...items];
  const running = new Set<Promise<void>>();
  const perServer = new Map<string, number>();
  while (queue.length > 0 && !limits.stopped()) {
    const index =
      running.size >= limits.concurrency
        ? -1
        : queue.findIndex((item) => (perServer.get(limits.serverOf(item)) ?? 0) < limits.perServer);
    if (index === -1) {
      await Promise.race(running);
      continue;
    }
    const [item] = queue.splice(index, 1);
    if (item === undefined) break;
    const server = limits.serverOf(item);
    perServer.set(server, (perServer.get(server) ?? 0) + 1);
    const task = run(item).finally(() => {
      running.delete(task);
      perServer.set(server, (perServer.get(server) ?? 1) - 1);
    });
    running.add(task);
  }
  await Promise.all(running);
  return queue;
}
