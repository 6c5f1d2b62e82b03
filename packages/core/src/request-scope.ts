/**
 * The per-request engine that the Fastify, Express and Koa adapters share: a fresh
 * Context for every request, the request id policy, the binding of the request's
 * emitters, and the `onRequest` hook. Each adapter is only its framework's idiom
 * around it.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bindEmitter } from './bind-emitter.js';
import { type Context, copyContext, reenterUnchecked } from './context.js';
import { describe, InvalidArgTypeError } from './errors.js';
import { generateRequestId, isValidRequestId, requestId } from './request-id.js';

/**
 * Options every framework adapter accepts. `Req` is the framework's request object;
 * `GenReq` what the id generator receives (Fastify generates ids before its request
 * object exists, so it passes the raw `IncomingMessage`).
 */
export interface RequestScopeOptions<Req, GenReq = Req> {
  /**
   * Incoming header that may carry the request id (matched case-insensitively).
   * `false`: never trust an incoming id. Default `'x-request-id'`.
   */
  requestIdHeader?: string | false;
  /**
   * Makes the id of a request that brings no valid one. Default `crypto.randomUUID()`.
   * Must return a non-empty string; anything else is replaced by a UUID.
   */
  generateRequestId?: (req: GenReq) => string;
  /** Whether the response carries the id in the `requestIdHeader` header. Default `true`. */
  echoRequestId?: boolean;
  /**
   * Runs inside the request's new Context before any later hook, middleware or
   * handler: the place to set the app's own vars, and to create per-request
   * mutable values (never share one mutable default between requests). May be
   * async; the request waits for it, and what it sets is visible to the whole
   * request. A throw or rejection becomes the framework's error response.
   */
  onRequest?: (req: Req) => unknown;
}

const kRequestContext = Symbol.for('@contextvars/core:requestContext');

type Carrier = { [kRequestContext]?: Context };

/**
 * The Context that the adapters created for a raw request (`IncomingMessage`), for
 * re-entering it at framework lifecycle points that run outside the request's own
 * async chain. `undefined` for a request no adapter has seen.
 */
export function requestContextOf(raw: IncomingMessage): Context | undefined {
  return (raw as Carrier)[kRequestContext];
}

/**
 * Calls `fn` in the Context of the raw request (see {@link requestContextOf}), or
 * in the current one if the request has none. The caller's scoped values stay in
 * force (see `reenter`): a span that tracing made active around the callback is
 * still the active one inside. Never throws `ERR_CONTEXT_ENTERED`: it is meant for
 * framework callbacks that may fire inside or outside it.
 */
export function runInRequestContext<R>(raw: IncomingMessage, fn: () => R): R {
  const ctx = (raw as Carrier)[kRequestContext];
  return ctx === undefined ? fn() : reenterUnchecked(ctx, fn);
}

/**
 * The value of header `name` (lower case) if it was sent exactly once. Reads
 * `rawHeaders`, because `IncomingMessage#headers` is built lazily on first access
 * and a request that never needs it should not pay for it here.
 */
function singleHeader(rawHeaders: string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const key = rawHeaders[i]!;
    if (key.length === name.length && key.toLowerCase() === name) {
      if (found !== undefined) return undefined; // repeated: never trusted
      found = rawHeaders[i + 1];
    }
  }
  return found;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** The validated options and per-request steps shared by the framework adapters. */
export class RequestScope<Req, GenReq = Req> {
  /** Lower-cased header name, or `undefined` when incoming ids are not read. */
  readonly header: string | undefined;
  /** The header to echo the id in, or `undefined`. */
  readonly echoHeader: string | undefined;
  private readonly generate: ((req: GenReq) => string) | undefined;
  private readonly hook: ((req: Req) => unknown) | undefined;

  /** @throws {@link InvalidArgTypeError} for options of the wrong type. */
  constructor(options: RequestScopeOptions<Req, GenReq> = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgTypeError(
        `contextvars options must be an object, received ${describe(options)}`,
      );
    }
    const { requestIdHeader = 'x-request-id', echoRequestId = true } = options;
    if (
      requestIdHeader !== false &&
      (typeof requestIdHeader !== 'string' ||
        !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(requestIdHeader))
    ) {
      throw new InvalidArgTypeError(
        `requestIdHeader must be a header name or false, received ${describe(requestIdHeader)}`,
      );
    }
    for (const name of ['generateRequestId', 'onRequest'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') {
        throw new InvalidArgTypeError(
          `${name} must be a function, received ${describe(options[name])}`,
        );
      }
    }
    if (typeof echoRequestId !== 'boolean') {
      throw new InvalidArgTypeError(
        `echoRequestId must be a boolean, received ${describe(echoRequestId)}`,
      );
    }
    this.header = requestIdHeader === false ? undefined : requestIdHeader.toLowerCase();
    this.echoHeader = echoRequestId ? (this.header ?? 'x-request-id') : undefined;
    this.generate = options.generateRequestId as ((req: GenReq) => string) | undefined;
    this.hook = options.onRequest;
  }

  /**
   * The id for a request: the incoming header when it was sent once and is valid,
   * else a generated one. Never returns an incoming value that fails
   * {@link isValidRequestId}.
   */
  idFor(req: GenReq, raw: Pick<IncomingMessage, 'rawHeaders' | 'headers'>): string {
    if (this.header !== undefined) {
      // Request objects that are not Node's (injected test requests) may lack rawHeaders.
      const incoming = Array.isArray(raw.rawHeaders)
        ? singleHeader(raw.rawHeaders, this.header)
        : raw.headers?.[this.header];
      if (isValidRequestId(incoming)) return incoming;
    }
    return this.newId(req);
  }

  /** A generated id (the `generateRequestId` option, else a UUID). */
  newId(req: GenReq): string {
    if (this.generate === undefined) return generateRequestId();
    const id = this.generate(req);
    return typeof id === 'string' && id.length > 0 ? id : generateRequestId();
  }

  /**
   * Creates the request's Context: a new copy of the current one (the Context the
   * server received the request in), to which the raw request and response
   * emitters are bound.
   */
  enter(raw: IncomingMessage, res: ServerResponse): Context {
    const ctx = copyContext();
    (raw as Carrier)[kRequestContext] = ctx;
    const runner = <R>(call: () => R): R => reenterUnchecked(ctx, call);
    bindEmitter(raw, runner);
    bindEmitter(res, runner);
    return ctx;
  }

  /**
   * Creates the request's Context ({@link RequestScope.enter}) and calls `fn` in it.
   * The Context is re-entered, not run: the span that instrumentation opened around
   * the adapter's hook stays the active one for the code the hook calls, as it
   * would without the adapter.
   */
  open<R>(raw: IncomingMessage, res: ServerResponse, fn: () => R): R {
    return reenterUnchecked(this.enter(raw, res), fn);
  }

  /**
   * Inside the request's Context: sets `requestId` and runs the `onRequest` hook.
   * Returns a promise only when the hook is async.
   */
  start(req: Req, id: string): void | Promise<void> {
    requestId.set(id);
    if (this.hook === undefined) return undefined;
    const result = this.hook(req);
    return isThenable(result) ? (Promise.resolve(result) as Promise<void>) : undefined;
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
      let pending: void | Promise<void>;
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
