/**
 * `@contextvars/fastify`: every request runs in a fresh contextvars Context, with a
 * validated request id that is also Fastify's own `request.id`.
 *
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import {
  isValidRequestId,
  RequestScope,
  type RequestScopeOptions,
  requestId,
  runInRequestContext,
} from '@contextvars/core';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
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
   * Default `crypto.randomUUID()`.
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
  const scope = new RequestScope<FastifyRequest, IncomingMessage>(options);
  return (raw) => scope.idFor(raw, raw.headers);
}

const plugin: FastifyPluginCallback<ContextVarsFastifyOptions> = (app, options, done) => {
  let scope: RequestScope<FastifyRequest, IncomingMessage>;
  try {
    scope = new RequestScope<FastifyRequest, IncomingMessage>(options);
  } catch (err) {
    done(err as Error);
    return;
  }
  app.setGenReqId((raw) => scope.idFor(raw, raw.headers));
  const logLabel =
    (app.initialConfig as { requestIdLogLabel?: string }).requestIdLogLabel ?? 'reqId';
  const echo = scope.echoHeader;

  app.addHook('onRequest', function contextvarsOnRequest(request, reply, next) {
    let id = request.id as unknown;
    if (!isValidRequestId(id)) {
      // Fastify's own requestIdHeader passed a header through verbatim (Fastify 4's
      // default): replace it, and the logger binding that carries it.
      id = scope.newId(request.raw);
      request.id = id as string;
      const log = (app as FastifyInstance).log.child({ [logLabel]: id });
      request.log = log;
      reply.log = log;
    }
    if (echo !== undefined) reply.header(echo, id);
    scope.begin(request, request.raw, reply.raw, id as string, next as (err?: unknown) => void);
  });

  // These hooks are triggered by events whose listeners Fastify registered before
  // the request's Context existed ('finish' on the response, the socket's
  // 'timeout', the request's 'close'): re-enter the Context for the hooks after ours.
  app.addHook('onResponse', (request: FastifyRequest, _reply: FastifyReply, next) => {
    runInRequestContext(request.raw, next);
  });
  app.addHook('onTimeout', (request: FastifyRequest, _reply: FastifyReply, next) => {
    runInRequestContext(request.raw, next);
  });
  app.addHook('onRequestAbort', (request: FastifyRequest, next) => {
    runInRequestContext(request.raw, next);
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
