/**
 * The request id var that every framework adapter sets and the logging bridge
 * reads. Only the var lives here; the policy that makes and validates ids is the
 * per-request engine's (`@contextvars/http`).
 *
 * @module
 */
import { ContextVar } from './context-var.js';
import { runtime } from './runtime.js';

/**
 * The current request's id: set by every framework adapter
 * (`@contextvars/fastify`, `@contextvars/express`, `@contextvars/koa`) for every request, read by the logging bridge. Outside a
 * request it has no value: read it with a fallback, `requestId.get(undefined)`.
 *
 * One var per process, shared by every copy of this package.
 */
export const requestId: ContextVar<string> = (() => {
  const existing = runtime.shared.get('requestId');
  if (existing !== undefined) return existing as ContextVar<string>;
  const created = new ContextVar<string>('requestId');
  runtime.shared.set('requestId', created);
  return created;
})();
