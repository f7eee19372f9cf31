/**
 * A `MessagePort` as comlink's endpoint, through Node's `on('message')` rather than the DOM-style
 * `addEventListener` comlink calls by default. Node builds a `MessageEvent` for every message
 * that goes through `addEventListener`, and the first one loads its fetch implementation
 * (undici) into the thread: about 10 ms of compiling on the host and again in every new worker
 * thread, for nothing offloop uses.
 */
import type { Endpoint } from 'comlink';
import type { MessagePort } from 'node:worker_threads';

/** What comlink passes as a listener (the DOM's type, which Node's types do not declare). */
type Listener =
  | ((event: { readonly data: unknown }) => void)
  | { handleEvent(event: { readonly data: unknown }): void };

/**
 * `port` for `Comlink.wrap` and `Comlink.expose`. Messages `skip` accepts are not comlink's (the
 * progress messages that share the events port) and never reach it.
 */
export function portEndpoint(
  port: MessagePort,
  skip: (data: unknown) => boolean = () => false,
): Endpoint {
  const listeners = new Map<Listener, (data: unknown) => void>();
  return {
    postMessage: (message, transfer) =>
      port.postMessage(message, transfer as Parameters<MessagePort['postMessage']>[1]),
    addEventListener: (_type, given) => {
      const listener = given as Listener;
      const onMessage = (data: unknown) => {
        if (skip(data)) return;
        if (typeof listener === 'function') listener({ data });
        else listener.handleEvent({ data });
      };
      listeners.set(listener, onMessage);
      port.on('message', onMessage);
    },
    removeEventListener: (_type, given) => {
      const listener = given as Listener;
      const onMessage = listeners.get(listener);
      if (onMessage === undefined) return;
      listeners.delete(listener);
      port.off('message', onMessage);
    },
  };
}
