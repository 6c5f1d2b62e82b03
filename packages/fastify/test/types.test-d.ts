import type { IncomingMessage } from 'node:http';
import { ContextVar, requestId as coreRequestId } from '@contextvars/core';
import contextvars, {
  type ContextVarsFastifyOptions,
  genReqId,
  contextvars as named,
  requestId,
} from '@contextvars/fastify';
import Fastify, { type FastifyPluginCallback, type FastifyRequest } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';

declare function authenticate(header: string | undefined): Promise<string>;

describe('@contextvars/fastify public types', () => {
  it('the default export is the named plugin, typed with its options', () => {
    expectTypeOf(contextvars).toEqualTypeOf(named);
    expectTypeOf(contextvars).toExtend<FastifyPluginCallback<ContextVarsFastifyOptions>>();
    expectTypeOf(requestId).toEqualTypeOf(coreRequestId);
  });

  it('options: onRequest gets the FastifyRequest and may return anything', async () => {
    const user = new ContextVar<string>('user');
    const app = Fastify();
    // The one-liner of the READMEs: `set` returns a Token.
    await app.register(contextvars, {
      onRequest: async (req) => user.set(await authenticate(req.headers.authorization)),
    });
    await app.register(contextvars, { onRequest: (req) => user.set(req.url) });
    await app.register(contextvars, {
      requestIdHeader: false,
      echoRequestId: true,
      generateRequestId: (raw) => String(raw.headers.host),
    });
    expectTypeOf<ContextVarsFastifyOptions['onRequest']>().toEqualTypeOf<
      ((req: FastifyRequest) => unknown) | undefined
    >();
    expectTypeOf<ContextVarsFastifyOptions['generateRequestId']>().toEqualTypeOf<
      ((raw: IncomingMessage) => string) | undefined
    >();
    // @ts-expect-error the header is a string or false
    await app.register(contextvars, { requestIdHeader: true });
  });

  it('genReqId: a Fastify genReqId built from the same options', () => {
    expectTypeOf(genReqId).returns.toEqualTypeOf<(raw: IncomingMessage) => string>();
    expectTypeOf(genReqId)
      .parameter(0)
      .toEqualTypeOf<
        Pick<ContextVarsFastifyOptions, 'requestIdHeader' | 'generateRequestId'> | undefined
      >();
    Fastify({ genReqId: genReqId({ requestIdHeader: 'x-trace' }) });
  });
});
