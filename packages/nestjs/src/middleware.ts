/**
 * The request middleware: the same entry as `@contextvars/express`, on what Nest
 * hands a middleware on either platform (Express's request on platform-express,
 * Node's `IncomingMessage` through middie on platform-fastify).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  NodeRequestScope,
  type RequestScopeOptions,
  requestContextOf,
} from '@contextvars/http/node';

/**
 * Options of {@link ContextVarsModule.forRoot}; every one is optional. They are the
 * options of every contextvars adapter (DESIGN §3). `onRequest` receives the
 * request as Nest middleware sees it: Express's `Request` on platform-express,
 * Node's `IncomingMessage` on platform-fastify (both are `IncomingMessage`s).
 */
export type ContextVarsModuleOptions<Req extends IncomingMessage = IncomingMessage> =
  RequestScopeOptions<Req>;

/** A Nest functional middleware (`(req, res, next) => void`). */
export type ContextVarsNestMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

/**
 * The middleware that {@link ContextVarsModule} applies to every route. Validates
 * the options at once, so a wrong option fails at bootstrap, not per request.
 *
 * @internal
 */
export function contextvarsMiddleware<Req extends IncomingMessage>(
  options: ContextVarsModuleOptions<Req>,
): ContextVarsNestMiddleware {
  const scope = new NodeRequestScope<Req>(options);
  const echo = scope.echoHeader;
  return function contextvarsMiddleware(req, res, next) {
    // The app registered @contextvars/express or @contextvars/fastify too: that
    // adapter already opened the request's Context and echoed its id. A second
    // Context would hide what its hooks set from the rest of the request.
    if (requestContextOf(req) !== undefined) {
      next();
      return;
    }
    const id = scope.idFor(req as Req, req);
    if (echo !== undefined) res.setHeader(echo, id);
    scope.begin(req as Req, req, res, id, next);
  };
}
