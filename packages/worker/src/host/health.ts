/**
 * Health checks gated on {@link Readiness}: 200 once the schema is ready, 503 before (and after
 * a failed migration), for node:http and any framework built on it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readiness, ReadinessState } from './readiness.ts';

/** The answer to a health check, framework-neutral. */
export type HealthStatus = {
  /** 200 when `ready`, 503 otherwise. */
  readonly statusCode: 200 | 503;
  readonly body: { readonly status: ReadinessState; readonly error?: string };
};

/**
 * What a health check should answer now. Use it where a framework wants the status and body
 * (Fastify: `reply.code(s.statusCode).send(s.body)`).
 */
export function healthStatus(readiness: Readiness): HealthStatus {
  const { state } = readiness;
  const code = readiness.errorCode;
  return {
    statusCode: state === 'ready' ? 200 : 503,
    body: code === null ? { status: state } : { status: state, error: code },
  };
}

/**
 * A `(request, response)` handler that answers with {@link healthStatus} as JSON. Works as a
 * node:http handler and as an Express route handler; the body carries the state and, when
 * failed, the error code (never the message, which may name files or hosts).
 *
 * @example
 * ```ts
 * const health = healthCheck(migrator.readiness);
 * createServer((req, res) => (req.url === '/healthz' ? health(req, res) : app(req, res)));
 * ```
 */
export function healthCheck(
  readiness: Readiness,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (_request, response) => {
    const { statusCode, body } = healthStatus(readiness);
    response.writeHead(statusCode, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
    });
    response.end(JSON.stringify(body));
  };
}
