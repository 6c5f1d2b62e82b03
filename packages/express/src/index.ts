/**
 * `@contextvars/express`: every request runs in a fresh contextvars Context, with a
 * validated request id.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestId } from '@contextvars/core';
import { NodeRequestScope, type RequestScopeOptions } from '@contextvars/http/node';

/** Options of the middleware; every one is optional. `Req` is the request type. */
export type ContextVarsExpressOptions<Req extends IncomingMessage = IncomingMessage> =
  RequestScopeOptions<Req>;

/** An Express-compatible middleware (`(req, res, next) => void`). */
export type ContextVarsMiddleware<Req extends IncomingMessage = IncomingMessage> = (
  req: Req,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

/**
 * The middleware factory: `app.use(contextvars(options))`. Works before or after
 * body parsers; place it first so that every later middleware runs in the
 * request's Context.
 */
export function contextvars<Req extends IncomingMessage = IncomingMessage>(
  options: ContextVarsExpressOptions<Req> = {},
): ContextVarsMiddleware<Req> {
  const scope = new NodeRequestScope<Req>(options);
  const echo = scope.echoHeader;
  return function contextvarsMiddleware(req, res, next) {
    const id = scope.idFor(req, req);
    if (echo !== undefined) res.setHeader(echo, id);
    scope.begin(req, req, res, id, next);
  };
}

export default contextvars;
export { requestId };
