/**
 * The worker side: Piscina runs this module's default export in a thread that owns its own
 * event loop, connection pools and module state. Migration files, slonik and the parser are
 * only ever loaded here.
 */
import { toEnvelope } from '@offloop/core';
import { execute } from '@offloop/core/engine';
import * as Comlink from 'comlink';
import { tagUrl } from './application-name.ts';
import type { HostChannel, TaskRequest, TaskResponse, WorkerControl } from './protocol.ts';

/** Run one task. Never throws: failures come back as envelopes. */
export default async function runTask(request: TaskRequest): Promise<TaskResponse<unknown>> {
  const host = Comlink.wrap<HostChannel>(request.events);
  const controller = new AbortController();
  const control: WorkerControl = { abort: (reason) => controller.abort(new Error(reason)) };
  Comlink.expose(control, request.control);
  // Awaiting each delivery keeps events ordered and all delivered before the task settles.
  const onProgress = (event: Parameters<HostChannel['progress']>[0]) => host.progress(event);
  try {
    await host.started();
    const { config } = request;
    const tagged = {
      ...config,
      url: tagUrl(config.url, request.runTag),
      lockUrl: config.lockUrl === null ? null : tagUrl(config.lockUrl, request.runTag),
    };
    const value = await execute(tagged, request.command, { onProgress, signal: controller.signal });
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: toEnvelope(error) };
  } finally {
    host[Comlink.releaseProxy]();
    request.events.close();
    request.control.close();
  }
}
