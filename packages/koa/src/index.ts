/**
 * `@contextvars/koa`: every request runs in a fresh contextvars Context, with a
 * validated request id.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { captureListenerFrame, requestId, Token } from '@contextvars/core';
import {
  NodeRequestScope,
  type RequestScopeOptions,
  runInRequestContext,
} from '@contextvars/http/node';

/** What the middleware uses of Koa's context object (Koa 2 and 3). */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  onerror(err: unknown): void;
}

/** Options of the middleware; every one is optional. `onRequest` receives Koa's `ctx`. */
export type ContextVarsKoaOptions<Ctx extends KoaContextLike = KoaContextLike> =
  RequestScopeOptions<Ctx>;

/** A Koa middleware (`(ctx, next) => Promise`). */
export type ContextVarsKoaMiddleware<Ctx extends KoaContextLike = KoaContextLike> = (
  ctx: Ctx,
  next: () => Promise<unknown>,
) => Promise<unknown>;

/**
 * The middleware factory: `app.use(contextvars(options))`. Place it first: every
 * later middleware, the code after `await next()`, `app.on('error')` listeners and
 * listeners on `ctx.req`/`ctx.res` run in the request's Context.
 */
export function contextvars<Ctx extends KoaContextLike = KoaContextLike>(
  options: ContextVarsKoaOptions<Ctx> = {},
): ContextVarsKoaMiddleware<Ctx> {
  const scope = new NodeRequestScope<Ctx>(options);
  const echo = scope.echoHeader;
  const onerror = onerrorInRequest(echo);
  return function contextvarsMiddleware(kctx, next) {
    const id = scope.idFor(kctx, kctx.req);
    // On the Node response itself: Koa 3's `ctx.set` builds arrays to accept header
    // objects and lists, and ends in the same `setHeader`.
    if (echo !== undefined) kctx.res.setHeader(echo, id);
    // Koa reports errors from a promise chain that began before any middleware,
    // through `ctx.onerror`, which it looks up on the request's own ctx: an own
    // property reaches this request only (no prototype is changed).
    kctx.onerror = onerror;
    const ctx = scope.enter(kctx.req, kctx.res);
    return ctx.run(() => {
      // Koa finishes the response from that same outer chain, so Node's own `'end'`
      // listener on the request (added at finish) fires from I/O: cheaper through a
      // frame captured now than with a `run` then, on Node 24+.
      captureListenerFrame(ctx);
      const pending = scope.start(kctx, id);
      return pending === undefined ? next() : pending.then(next);
    });
  };
}

/**
 * A ctx's `onerror` that runs Koa's own in the request's Context (so `app.on('error')`
 * listeners see the request's vars) and puts the request id back through
 * `err.headers`, which Koa applies after clearing every response header.
 */
function onerrorInRequest(echo: string | undefined): (this: KoaContextLike, err: unknown) => void {
  return function contextvarsOnerror(this: KoaContextLike, err: unknown) {
    const inherited = Object.getPrototypeOf(this) as KoaContextLike;
    // Koa calls it with no error for every response that finishes; its own handler
    // ignores those, so they need no Context.
    if (err === null || err === undefined) return inherited.onerror.call(this, err);
    return runInRequestContext(this.req, () => {
      const id = requestId.get(Token.MISSING);
      if (
        echo !== undefined &&
        id !== Token.MISSING &&
        err !== null &&
        typeof err === 'object' &&
        Object.isExtensible(err)
      ) {
        const carrier = err as { headers?: Record<string, unknown> };
        carrier.headers = { ...carrier.headers, [echo]: id };
      }
      return inherited.onerror.call(this, err);
    });
  };
}

export default contextvars;
export { requestId };
