/**
 * The worker side: Piscina runs this module's default export in a thread that owns its own
 * event loop, connection pools and module state. Migration files, slonik and the parser are
 * only ever loaded here.
 */
import { toEnvelope } from '@offloop/core';
import { status, up } from '@offloop/core/engine';
import * as Comlink from 'comlink';
import type { HostChannel, TaskRequest, TaskResponse, TaskResults, WorkerControl } from './protocol.ts';

/** Run one task. Never throws: failures come back as envelopes. */
export default async function runTask(request: TaskRequest): Promise<TaskResponse<TaskResults[TaskRequest['command']]>> {
  const host = Comlink.wrap<HostChannel>(request.events);
  const controller = new AbortController();
  const control: WorkerControl = { abort: (reason) => controller.abort(new Error(reason)) };
  Comlink.expose(control, request.control);
  // Awaiting each delivery keeps events ordered and all delivered before the task settles.
  const onProgress = (event: Parameters<HostChannel['progress']>[0]) => host.progress(event);
  try {
    const options = { onProgress, signal: controller.signal };
    const value = request.command === 'up'
      ? await up(request.config, { ...options, to: request.to })
      : await status(request.config, options);
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: toEnvelope(error) };
  } finally {
    host[Comlink.releaseProxy]();
    request.events.close();
    request.control.close();
  }
}
