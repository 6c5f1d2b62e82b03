import type { IncomingMessage, ServerResponse } from 'node:http';
import { ContextVar, requestId as coreRequestId } from '@contextvars/core';
import contextvars, {
  type ContextVarsKoaMiddleware,
  type ContextVarsKoaOptions,
  type KoaContextLike,
  contextvars as named,
  requestId,
} from '@contextvars/koa';
import Koa from 'koa';
import { describe, expectTypeOf, it } from 'vitest';

declare function authenticate(header: string | undefined): Promise<string>;

describe('@contextvars/koa public types', () => {
  it('the default export is the named factory; requestId is the core var', () => {
    expectTypeOf(contextvars).toEqualTypeOf(named);
    expectTypeOf(requestId).toEqualTypeOf(coreRequestId);
    expectTypeOf(contextvars()).toEqualTypeOf<ContextVarsKoaMiddleware<KoaContextLike>>();
    expectTypeOf<KoaContextLike['req']>().toEqualTypeOf<IncomingMessage>();
    expectTypeOf<KoaContextLike['res']>().toEqualTypeOf<ServerResponse>();
  });

  it("is a Koa middleware; onRequest gets Koa's ctx and may return anything", () => {
    const user = new ContextVar<string>('user');
    const app = new Koa();
    app.use(contextvars());
    // The one-liner of the READMEs, with Koa's own context type for `ctx.get`.
    app.use(
      contextvars({
        onRequest: async (ctx: Koa.Context) =>
          user.set(await authenticate(ctx.get('authorization'))),
      }),
    );
    app.use(contextvars({ onRequest: (ctx) => user.set(String(ctx.req.url)) }));
    expectTypeOf<ContextVarsKoaOptions['onRequest']>().toEqualTypeOf<
      ((ctx: KoaContextLike) => unknown) | undefined
    >();
    // @ts-expect-error the context must be Koa-like
    contextvars<{ req: IncomingMessage }>();
  });
});
