/**
 * `@contextvars/http/node`: the per-request engine on Node's `http` objects. Binds
 * each request's `req` and `res` so that their listeners (body parsers, multipart
 * readers, `'finish'`, `'close'`) run in the request's Context, reads the incoming
 * id from `rawHeaders`, and re-enters the Context at framework callbacks.
 *
 * @packageDocumentation
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import {
  bindEmitter,
  boundContext,
  type Context,
  copyContext,
  reenter,
  shareEmitterBinding,
} from '@contextvars/core';
import { singleRawHeader } from './raw-headers.js';
import { RequestScope, type RequestScopeOptions } from './request-scope.js';

export type { RequestScopeOptions } from './request-scope.js';

/**
 * The Context that a raw request (`IncomingMessage`) is bound to: the one an
 * adapter created for it, for re-entering it at framework lifecycle points that run
 * outside the request's own async chain. `undefined` for a request no adapter has
 * seen. It is `boundContext` of `@contextvars/core`: the request carries nothing
 * else, so a request that other code bound to a Context of its own counts as seen.
 */
export function requestContextOf(raw: IncomingMessage): Context | undefined {
  return boundContext(raw);
}

/**
 * Calls `fn` in the Context of the raw request (see {@link requestContextOf}), or
 * in the current one if the request has none. The caller's scoped values stay in
 * force (see `reenter`): a span that tracing made active around the callback is
 * still the active one inside. Never throws `ERR_CONTEXT_ENTERED`: it is meant for
 * framework callbacks that may fire inside or outside it.
 */
export function runInRequestContext<R>(raw: IncomingMessage, fn: () => R): R {
  const ctx = boundContext(raw);
  return ctx === undefined ? fn() : reenter(ctx, fn);
}

/**
 * Node's request and response prototypes get the binding methods once, so that
 * binding a request costs at most one property write. Patching a prototype is the only
 * way: Node has no public hook to run a request's listeners in a context, and
 * per-object methods reshape every request object (costly where Express swaps
 * prototypes). Unbound requests keep Node's behaviour. Idempotent (so is
 * `shareEmitterBinding`).
 */
function shareHttpBinding(): void {
  shareEmitterBinding(IncomingMessage.prototype);
  shareEmitterBinding(ServerResponse.prototype);
}

/** {@link RequestScope} on Node's `http` request and response objects. */
export class NodeRequestScope<Req, GenReq = Req> extends RequestScope<Req, GenReq> {
  /** @throws `InvalidArgTypeError` (`ERR_INVALID_ARG_TYPE`) for options of the wrong type. */
  constructor(options?: RequestScopeOptions<Req, GenReq>) {
    super(options);
    // Now, while the app is set up: changing the prototypes once requests have been
    // made leaves Node's own request and response constructors megamorphic.
    shareHttpBinding();
  }

  /**
   * The id for a request: the incoming header when it was sent once and is valid,
   * else a generated one.
   */
  idFor(req: GenReq, raw: Pick<IncomingMessage, 'rawHeaders' | 'headers'>): string {
    const name = this.header;
    if (name === undefined) return this.newId(req);
    // Request objects that are not Node's (injected test requests) may lack rawHeaders.
    const incoming = Array.isArray(raw.rawHeaders)
      ? singleRawHeader(raw.rawHeaders, name)
      : raw.headers?.[name];
    return this.idFrom(incoming, req);
  }

  /**
   * Creates the request's Context: a copy of the current one (the Context the
   * server received the request in), with the raw request and response bound to it
   * (their listeners re-enter it, keeping the emitter's active span).
   */
  enter(raw: IncomingMessage, res: ServerResponse): Context {
    const ctx = copyContext();
    bindEmitter(raw, ctx);
    bindEmitter(res, ctx);
    return ctx;
  }

  /**
   * Creates the request's Context ({@link NodeRequestScope.enter}) and calls `fn`
   * in it. A fresh copy carries the caller's scoped values: the span that
   * instrumentation opened around the adapter's hook stays the active one for the
   * code the hook calls, as it would without the adapter.
   */
  open<R>(raw: IncomingMessage, res: ServerResponse, fn: () => R): R {
    return this.enter(raw, res).run(fn);
  }

  /**
   * The whole entry for callback-style frameworks (Fastify hooks, Express
   * middleware): enters a new Context, starts the request in it and calls `next`
   * inside it once `onRequest` has settled; `next(err)` if it failed.
   */
  begin(
    req: Req,
    raw: IncomingMessage,
    res: ServerResponse,
    id: string,
    next: (err?: unknown) => void,
  ): void {
    this.open(raw, res, () => {
      let pending: undefined | Promise<unknown>;
      try {
        pending = this.start(req, id);
      } catch (err) {
        next(err);
        return;
      }
      if (pending === undefined) next();
      else pending.then(() => next(), next);
    });
  }
}
