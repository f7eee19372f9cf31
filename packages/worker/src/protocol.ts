/**
 * What crosses the thread boundary for one task. Completion and failure travel in the task's
 * result (Piscina's promise); progress and cancel requests travel over per-task MessageChannels
 * with comlink. Errors travel as envelopes: structured clone would strip their class and fields.
 */
import type { ErrorEnvelope, ProgressEvent, ResolvedConfig, StatusResult, UpResult } from '@offloop/core';
import type { MessagePort } from 'node:worker_threads';

/** A task for the worker. */
export type TaskRequest =
  | { readonly command: 'up'; readonly config: ResolvedConfig; readonly to: string | undefined; readonly events: MessagePort; readonly control: MessagePort }
  | { readonly command: 'status'; readonly config: ResolvedConfig; readonly events: MessagePort; readonly control: MessagePort };

/** What the worker returns: a value, or an error envelope to rebuild on the host. */
export type TaskResponse<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ErrorEnvelope };

/** Results by command. */
export type TaskResults = { readonly up: UpResult; readonly status: StatusResult };

/** Exposed by the host on the events port. */
export type HostChannel = { progress(event: ProgressEvent): void };

/** Exposed by the worker on the control port. */
export type WorkerControl = { abort(reason: string): void };
