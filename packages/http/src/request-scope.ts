/**
 * The per-request engine, framework-neutral: the adapters' options, the request-id
 * policy applied to a request, a fresh Context per request and the `onRequest`
 * hook. Nothing here needs `node:http`, so fetch-based frameworks use it as it is;
 * Node's `req`/`res` binding is in `./node.ts`.
 *
 * @module
 */
import { copyContext, InvalidArgTypeError, requestId } from '@contextvars/core';
import { generateRequestId, HTTP_TOKEN, isValidRequestId } from './request-id.js';

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
   * Makes the id of a request that brings no valid one. Default `generateRequestId()` of `@contextvars/http`: UUID-shaped, unique, cheap.
   * Must return a non-empty string; anything else is replaced by a UUID.
   */
  generateRequestId?: (req: GenReq) => string;
  /** Whether the response carries the id in the `requestIdHeader` header. Default `true`. */
  echoRequestId?: boolean;
  /**
   * Runs inside the request's new Context before any later hook, middleware or
   * handler: the place to set the app's own vars, and to create per-request
   * mutable values (never share one mutable default between requests). It may
   * return anything (a Token from `set`); a promise (or thenable) is awaited, and
   * what it sets is visible to the whole request. A throw or rejection becomes the
   * framework's error response.
   */
  onRequest?: (req: Req) => unknown;
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : typeof value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
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

  /** @throws `InvalidArgTypeError` (`ERR_INVALID_ARG_TYPE`) for options of the wrong type. */
  constructor(options: RequestScopeOptions<Req, GenReq> = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgTypeError(
        `contextvars options must be an object, received ${kindOf(options)}`,
      );
    }
    const { requestIdHeader = 'x-request-id', echoRequestId = true } = options;
    if (
      requestIdHeader !== false &&
      (typeof requestIdHeader !== 'string' || !HTTP_TOKEN.test(requestIdHeader))
    ) {
      throw new InvalidArgTypeError(
        `requestIdHeader must be a header name or false, received ${kindOf(requestIdHeader)}`,
      );
    }
    for (const name of ['generateRequestId', 'onRequest'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') {
        throw new InvalidArgTypeError(
          `${name} must be a function, received ${kindOf(options[name])}`,
        );
      }
    }
    if (typeof echoRequestId !== 'boolean') {
      throw new InvalidArgTypeError(
        `echoRequestId must be a boolean, received ${kindOf(echoRequestId)}`,
      );
    }
    this.header = requestIdHeader === false ? undefined : requestIdHeader.toLowerCase();
    this.echoHeader = echoRequestId ? (this.header ?? 'x-request-id') : undefined;
    this.generate = options.generateRequestId as ((req: GenReq) => string) | undefined;
    this.hook = options.onRequest;
  }

  /**
   * The id for a request whose `requestIdHeader` header arrived as `incoming`
   * (`undefined` when absent or sent more than once): `incoming` when it is valid,
   * else a generated id. Never returns an incoming value that fails
   * `isValidRequestId`.
   */
  idFrom(incoming: unknown, req: GenReq): string {
    return this.header !== undefined && isValidRequestId(incoming) ? incoming : this.newId(req);
  }

  /** A generated id (the `generateRequestId` option, else a UUID). */
  newId(req: GenReq): string {
    if (this.generate === undefined) return generateRequestId();
    const id = this.generate(req);
    return typeof id === 'string' && id.length > 0 ? id : generateRequestId();
  }

  /**
   * Calls `fn` in a fresh Context for one request: a copy of the current one (the
   * Context the server received the request in). The copy carries the caller's
   * scoped values, so the span tracing opened around the caller stays active.
   */
  run<R>(fn: () => R): R {
    return copyContext().run(fn);
  }

  /**
   * Inside the request's Context: sets `requestId` and runs the `onRequest` hook.
   * Returns a promise only when the hook returned a thenable.
   */
  start(req: Req, id: string): undefined | Promise<unknown> {
    requestId.set(id);
    if (this.hook === undefined) return undefined;
    const result = this.hook(req);
    return isThenable(result) ? Promise.resolve(result) : undefined;
  }
}
