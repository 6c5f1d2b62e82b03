import { ContextVar, requestId as coreRequestId } from '@contextvars/core';
import contextvars, {
  type ContextVarsEnv,
  type ContextVarsHonoOptions,
  contextvars as named,
  type RequestIdVariables,
  requestId,
} from '@contextvars/hono';
import { type Context, type Env, Hono, type MiddlewareHandler } from 'hono';
import type { RequestIdVariables as HonoRequestIdVariables } from 'hono/request-id';
import { describe, expectTypeOf, it } from 'vitest';

declare function authenticate(header: string | undefined): Promise<string>;

describe('@contextvars/hono public types', () => {
  it('the default export is the named factory; requestId is the core var', () => {
    expectTypeOf(contextvars).toEqualTypeOf(named);
    expectTypeOf(requestId).toEqualTypeOf(coreRequestId);
    expectTypeOf(contextvars()).toExtend<MiddlewareHandler<ContextVarsEnv>>();
  });

  it('c.var.requestId has the type of hono/request-id', () => {
    expectTypeOf<RequestIdVariables>().toEqualTypeOf<HonoRequestIdVariables>();
    const app = new Hono().use(contextvars());
    app.get('/', (c) => {
      expectTypeOf(c.get('requestId')).toEqualTypeOf<string>();
      expectTypeOf(c.var.requestId).toEqualTypeOf<string>();
      return c.text('ok');
    });
  });

  it('is a Hono middleware; onRequest gets c typed with the app’s Env and may return anything', () => {
    type AppEnv = { Bindings: { TENANT: string }; Variables: { user: string } };
    const user = new ContextVar<string>('user');
    const app = new Hono<AppEnv>();
    app.use(
      contextvars({
        onRequest: async (c) => user.set(await authenticate(c.req.header('authorization'))),
      }),
    );
    app.use(
      contextvars<AppEnv>({
        onRequest: (c) => {
          expectTypeOf(c.env.TENANT).toEqualTypeOf<string>();
          expectTypeOf(c.get('requestId')).toEqualTypeOf<string>();
          c.set('user', 'ada');
        },
        generateRequestId: (c) => `${c.env.TENANT}-${crypto.randomUUID()}`,
      }),
    );
    app.use(contextvars({ requestIdHeader: false, echoRequestId: false }));
    expectTypeOf<ContextVarsHonoOptions['onRequest']>().toEqualTypeOf<
      ((c: Context<Env & ContextVarsEnv>) => unknown) | undefined
    >();
    // @ts-expect-error a generator returns a string
    contextvars({ generateRequestId: () => 42 });
  });
});
