/**
 * `@contextvars/koa`: every request runs in a fresh contextvars Context, with a
 * validated request id.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestId } from '@contextvars/core';
import {
  NodeRequestScope,
  type RequestScopeOptions,
  runInRequestContext,
} from '@contextvars/http/node';

/** What the middleware uses of Koa's context object (Koa 2 and 3). */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  set(field: string, value: string): void;
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
  return function contextvarsMiddleware(kctx, next) {
    const id = scope.idFor(kctx, kctx.req);
    if (echo !== undefined) kctx.set(echo, id);
    patchOnerror(kctx, echo);
    return scope.open(kctx.req, kctx.res, () => {
      const pending = scope.start(kctx, id);
      return pending === undefined ? next() : pending.then(next);
    });
  };
}

const kPatched = Symbol.for('@contextvars/koa:onerror');
const MISSING = Symbol('missing');

/**
 * Koa reports errors (and emits the app's 'error') from a promise chain that began
 * before any middleware, and clears every response header first. Once per app, its
 * context prototype's `onerror` is wrapped to run in the request's Context and to
 * put the request id back through `err.headers`, which Koa sets after clearing.
 */
function patchOnerror(kctx: KoaContextLike, echo: string | undefined): void {
  const proto = Object.getPrototypeOf(kctx) as KoaContextLike & { [kPatched]?: true };
  if (proto === null || proto[kPatched]) return;
  const onerror = proto.onerror;
  Object.defineProperty(proto, kPatched, { value: true });
  proto.onerror = function contextvarsOnerror(this: KoaContextLike, err: unknown) {
    return runInRequestContext(this.req, () => {
      const id = requestId.get(MISSING);
      if (
        echo !== undefined &&
        id !== MISSING &&
        err !== null &&
        typeof err === 'object' &&
        Object.isExtensible(err)
      ) {
        const carrier = err as { headers?: Record<string, unknown> };
        carrier.headers = { ...carrier.headers, [echo]: id };
      }
      return onerror.call(this, err);
    });
  };
}

export default contextvars;
export { requestId };
