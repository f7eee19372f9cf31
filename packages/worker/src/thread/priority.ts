/**
 * The worker thread's CPU priority. On Linux the nice value belongs to a thread, so the worker
 * can step back and leave the CPU to the host's threads when both want it (a 2-core machine
 * serving requests while a data migration computes); with idle CPUs it costs nothing. Elsewhere
 * `setpriority` changes the whole process, host included, so it is left alone.
 */
import os from 'node:os';

/** Lower the calling thread's priority to `nice` (never raise it: that needs privileges). */
export function lowerThreadPriority(nice: number): void {
  if (process.platform !== 'linux' || nice <= 0) return;
  try {
    // pid 0: the calling thread (Linux applies setpriority/getpriority per thread).
    if (os.getPriority(0) < nice) os.setPriority(0, nice);
  } catch {
    // A sandbox that refuses it: run at the current priority.
  }
}
