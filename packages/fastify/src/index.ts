/**
 * `@contextvars/fastify`: every request runs in a fresh contextvars Context, with a
 * validated request id that is also Fastify's own `request.id`.
 *
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import { requestId } from '@contextvars/core';
import { isValidRequestId } from '@contextvars/http';
import {
  NodeRequestScope,
  type RequestScopeOptions,
  runInRequestContext,
} from '@contextvars/http/node';
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** Options of the plugin; every one is optional. */
export interface ContextVarsFastifyOptions
  extends RequestScopeOptions<FastifyRequest, IncomingMessage> {
  /**
   * Incoming header that may carry the request id; `false` to always generate.
   * Default `'x-request-id'`. Leave Fastify's own `requestIdHeader` unset (Fastify 5)
   * or `false` (Fastify 4): it takes a header verbatim, before any validation.
   */
  requestIdHeader?: string | false;
  /**
   * Makes the id of a request without a valid incoming one. Receives the raw
   * `IncomingMessage`, because Fastify creates ids before its request object.
   * Default `generateRequestId()` of `@contextvars/http`: UUID-shaped, unique, cheap.
   */
  generateRequestId?: (raw: IncomingMessage) => string;
}

/**
 * A Fastify `genReqId` that applies the request id policy: the incoming header
 * (default `x-request-id`) when it is valid, else a generated id. The plugin
 * installs it itself (`setGenReqId`); pass it to the constructor when other code
 * needs `request.id` before the plugin is registered:
 *
 * @example
 * ```ts
 * const app = Fastify({ genReqId: genReqId(), requestIdHeader: false });
 * ```
 */
export function genReqId(
  options: Pick<ContextVarsFastifyOptions, 'requestIdHeader' | 'generateRequestId'> = {},
): (raw: IncomingMessage) => string {
  const scope = new NodeRequestScope<FastifyRequest, IncomingMessage>(options);
  return (raw) => scope.idFor(raw, raw);
}

/**
 * The key under which `log` binds `id` (Fastify's `requestIdLogLabel`, set at the
 * top level or through a `LogController`), read from pino's public `bindings()`.
 */
function boundLabel(log: unknown, id: unknown): string | undefined {
  const bindings = (log as { bindings?: () => Record<string, unknown> }).bindings?.();
  for (const key in bindings) if (bindings[key] === id) return key;
  return undefined;
}

const REENTERED_HOOKS = new Set(['onResponse', 'onTimeout', 'onRequestAbort']);

type Hook = (this: unknown, request: FastifyRequest, ...rest: unknown[]) => unknown;

/**
 * `fn`, run in the Context of the request it is called for. Keeps what Fastify
 * inspects of a hook: `length` (callback or not) and whether it is an async function.
 */
function inRequestContext(fn: unknown): unknown {
  if (typeof fn !== 'function') return fn;
  const hook = fn as Hook;
  const wrapped =
    hook.constructor.name === 'AsyncFunction'
      ? async function (this: unknown, request: FastifyRequest, ...rest: unknown[]) {
          return runInRequestContext(request.raw, () => hook.call(this, request, ...rest));
        }
      : function (this: unknown, request: FastifyRequest, ...rest: unknown[]) {
          return runInRequestContext(request.raw, () => hook.call(this, request, ...rest));
        };
  Object.defineProperty(wrapped, 'length', { value: hook.length });
  Object.defineProperty(wrapped, 'name', { value: hook.name });
  return wrapped;
}

const plugin: FastifyPluginCallback<ContextVarsFastifyOptions> = (app, options, done) => {
  let scope: NodeRequestScope<FastifyRequest, IncomingMessage>;
  try {
    scope = new NodeRequestScope<FastifyRequest, IncomingMessage>(options);
  } catch (err) {
    done(err as Error);
    return;
  }
  // The last id handed to Fastify, so the hook below need not validate it again. A
  // string, not the request: nothing of a request outlives it here. When hooks
  // interleave, the check below merely falls back to validating.
  let lastId: string | undefined;
  app.setGenReqId((raw) => {
    lastId = scope.idFor(raw, raw);
    return lastId;
  });
  const configuredLabel = (app.initialConfig as { requestIdLogLabel?: string }).requestIdLogLabel;
  const echo = scope.echoHeader;

  app.addHook('onRequest', function contextvarsOnRequest(request, reply, next) {
    let id = request.id as unknown;
    if (id !== lastId && !isValidRequestId(id)) {
      // Fastify's own requestIdHeader passed a header through verbatim (Fastify 4's
      // default): replace it, and the logger binding that carries it.
      const label = boundLabel(request.log, id) ?? configuredLabel ?? 'reqId';
      id = scope.newId(request.raw);
      request.id = id as string;
      const log = (app as FastifyInstance).log.child({ [label]: id });
      request.log = log;
      reply.log = log;
    }
    if (echo !== undefined) reply.header(echo, id);
    scope.begin(request, request.raw, reply.raw, id as string, next as (err?: unknown) => void);
  });

  // These hooks are fired by events that Fastify subscribed to before the request's
  // Context existed ('finish' on the response, the socket's 'timeout', the request's
  // 'close'): the app's own hooks of these kinds are wrapped to run in the request's
  // Context. Wrapping the app's hooks, rather than adding hooks of ours, keeps
  // requests of apps that use none of them free of the cost.
  const addHook = app.addHook;
  app.addHook = function addHookInRequestContext(this: FastifyInstance, name: string, fn: unknown) {
    return (addHook as (name: string, fn: unknown) => FastifyInstance).call(
      this,
      name,
      REENTERED_HOOKS.has(name) ? inRequestContext(fn) : fn,
    );
  } as typeof app.addHook;
  addHook.call(app, 'onRoute', (routeOptions: object) => {
    const route = routeOptions as unknown as Record<string, unknown>;
    for (const name of REENTERED_HOOKS) {
      const hooks = route[name];
      if (hooks !== undefined)
        route[name] = Array.isArray(hooks) ? hooks.map(inRequestContext) : inRequestContext(hooks);
    }
  });
  done();
};

/**
 * The plugin: `app.register(contextvars, options)`. Wrapped with `fastify-plugin`,
 * so it applies to the whole app; register it before other plugins and hooks.
 */
export const contextvars = fp(plugin, {
  fastify: '4.x || 5.x',
  name: '@contextvars/fastify',
});

export default contextvars;
export { requestId };
