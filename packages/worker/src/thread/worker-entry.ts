/**
 * The worker side: Piscina runs this module's default export in a thread that owns its own
 * event loop, connection pools and module state. Migration files, slonik and the parser are
 * only ever loaded here.
 */
import { toEnvelope } from '@offloop/core';
import { connectAhead, execute } from '@offloop/core/engine';
import * as Comlink from 'comlink';
import { threadId } from 'node:worker_threads';
import { portEndpoint } from '../port-endpoint.ts';
import { tagUrl } from './application-name.ts';
import { withConsoleCapture } from './console-capture.ts';
import { EventBatcher } from './event-batcher.ts';
import { lowerThreadPriority } from './priority.ts';

export { scan, targetsQuery } from './fleet-tasks.ts';

/** What `migrator.warm()` sends its thread. */
export type WarmRequest = { readonly config: ResolvedConfig };

/**
 * The task `migrator.warm()` runs. By the time Piscina calls it the thread has started and this
 * module, with the engine, is loaded; it then opens the connection the next call takes (never
 * failing: an unreachable database is the next call's to report).
 */
export async function warm({ config }: WarmRequest): Promise<null> {
  lowerThreadPriority(config.workerNice);
  // Tagged as offloop's in pg_stat_activity until a call takes it and tags it with its own.
  await connectAhead({ ...config, url: tagUrl(config.url, 'offloop:warm') });
  return null;
}
import type { ProgressEvent, ResolvedConfig } from '@offloop/core';
import type {
  HostChannel,
  ProgressMessage,
  TaskRequest,
  TaskResponse,
  WorkerControl,
} from '../protocol.ts';

/** Run one task. Never throws: failures come back as envelopes. */
export default async function runTask(request: TaskRequest): Promise<TaskResponse<unknown>> {
  const host = Comlink.wrap<HostChannel>(portEndpoint(request.events));
  const controller = new AbortController();
  const control: WorkerControl = { abort: (reason) => controller.abort(new Error(reason)) };
  Comlink.expose(control, portEndpoint(request.control));
  const events = new EventBatcher(
    (batch) => {
      const message: ProgressMessage = { progress: batch };
      request.events.postMessage(message);
    },
    () => host.sync(),
  );
  // The migration being imported or run, for the lines it logs.
  let current = '';
  const onProgress = (event: ProgressEvent) => {
    if (event.type === 'migration:loading' || event.type === 'migration:started')
      current = event.version;
    events.push(event);
  };
  const onLine = (message: string) =>
    events.push({ type: 'migration:progress', version: current, message, done: null, total: null });
  try {
    const value = await withConsoleCapture(onLine, async () => {
      await host.started(threadId);
      const { config } = request;
      lowerThreadPriority(config.workerNice);
      const tagged = {
        ...config,
        url: tagUrl(config.url, request.runTag),
        lockUrl: config.lockUrl === null ? null : tagUrl(config.lockUrl, request.runTag),
      };
      return execute(tagged, request.command, {
        onProgress,
        signal: controller.signal,
        filesKey: request.filesKey,
        serial: async (version) => {
          await host.acquire(version);
          return () => void host.release(version).catch(() => undefined);
        },
      });
    });
    await events.flush();
    return { ok: true, value };
  } catch (error) {
    await events.flush().catch(() => undefined);
    return { ok: false, error: toEnvelope(error) };
  } finally {
    host[Comlink.releaseProxy]();
    request.events.close();
    request.control.close();
  }
}
