/**
 * `@contextvars/hono`: every request runs in a fresh contextvars Context, with a
 * validated request id. Framework-neutral: it uses Hono's `Context` and the Fetch
 * API only (no `node:` import), so it works wherever Hono's `fetch` entry runs with
 * `AsyncLocalStorage` (Node through `@hono/node-server`, Bun, Deno).
 *
 * @packageDocumentation
 */
import { requestId } from '@contextvars/core';
import { RequestScope, type RequestScopeOptions, singleRawHeader } from '@contextvars/http';
import type { Context, Env, MiddlewareHandler } from 'hono';

/**
 * What the middleware adds to `c.var`: the request id, under the key and type of
 * Hono's own `hono/request-id` middleware, so code written for it keeps working.
 */
export type RequestIdVariables = { requestId: string };

/** The `Env` fragment the middleware contributes to the app's: `{ Variables: RequestIdVariables }`. */
export type ContextVarsEnv = { Variables: RequestIdVariables };

/**
 * Options of the middleware; every one is optional. `onRequest` and
 * `generateRequestId` receive Hono's `Context` (`c`), typed with the app's `E`.
 */
export type ContextVarsHonoOptions<E extends Env = Env> = RequestScopeOptions<
  Context<E & ContextVarsEnv>
>;

/**
 * The middleware factory: `app.use(contextvars(options))`. Place it first: every
 * later middleware, the handler, the code after `await next()`, `app.onError`,
 * `app.notFound` and the callbacks of `stream`/`streamSSE` run in the request's
 * Context. The id is also `c.get('requestId')` (`c.var.requestId`).
 */
export function contextvars<E extends Env = Env>(
  options: ContextVarsHonoOptions<E> = {},
): MiddlewareHandler<E & ContextVarsEnv> {
  const scope = new RequestScope<Context<E & ContextVarsEnv>>(options);
  const header = scope.header;
  const echo = scope.echoHeader;
  return function contextvarsMiddleware(c, next) {
    const id = scope.idFrom(header === undefined ? undefined : incomingId(c, header), c);
    c.set('requestId', id);
    // On @hono/node-server the Node response takes the header at once: Node merges it
    // into whatever Response the app returns (built with `c.*` or by hand, streams
    // too), and nothing builds the fetch Response's headers to check.
    const outgoing = nodeResponse(c);
    if (echo !== undefined && outgoing !== undefined) outgoing.setHeader(echo, id);
    // Elsewhere: set before `next()` so that responses built with `c.*` (errors, 404,
    // streams, whose headers leave before the handler returns) carry it from the start.
    const echoHere = echo !== undefined && outgoing === undefined;
    if (echoHere) c.header(echo, id);
    return scope.run(() => {
      const pending = scope.start(c, id);
      const done = pending === undefined ? next() : pending.then(next);
      return echoHere ? done.then(() => echoOnRawResponse(c, echo, id)) : done;
    });
  };
}

/**
 * The incoming id header. On `@hono/node-server` it is read from the Node request's
 * `rawHeaders` (sent more than once: none), which spares building the fetch
 * `Request`'s headers; elsewhere `c.req.header` joins a repeated header with ", ",
 * which the id policy rejects.
 */
function incomingId(c: Context, name: string): string | undefined {
  const rawHeaders = (c.env as { incoming?: { rawHeaders?: unknown } } | undefined)?.incoming
    ?.rawHeaders;
  return Array.isArray(rawHeaders) ? singleRawHeader(rawHeaders, name) : c.req.header(name);
}

/** The Node response under `@hono/node-server` (`c.env.outgoing`), else `undefined`. */
function nodeResponse(c: Context): { setHeader(name: string, value: string): unknown } | undefined {
  const outgoing = (c.env as { outgoing?: { setHeader?: unknown } } | undefined)?.outgoing;
  return typeof outgoing?.setHeader === 'function'
    ? (outgoing as { setHeader(name: string, value: string): unknown })
    : undefined;
}

/**
 * A handler may return a `Response` it built itself, which Hono adopts without the
 * headers prepared with `c.header`: put the id back on it.
 */
function echoOnRawResponse(c: Context, echo: string, id: string): void {
  if (c.finalized && !c.res.headers.has(echo)) c.header(echo, id);
}

export default contextvars;
export { requestId };
