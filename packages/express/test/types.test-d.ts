import type { IncomingMessage, ServerResponse } from 'node:http';
import { ContextVar, requestId as coreRequestId } from '@contextvars/core';
import contextvars, {
  type ContextVarsExpressOptions,
  type ContextVarsMiddleware,
  contextvars as named,
  requestId,
} from '@contextvars/express';
import express, { type Request } from 'express';
import { describe, expectTypeOf, it } from 'vitest';

declare function authenticate(header: string | undefined): Promise<string>;

describe('@contextvars/express public types', () => {
  it('the default export is the named factory; requestId is the core var', () => {
    expectTypeOf(contextvars).toEqualTypeOf(named);
    expectTypeOf(requestId).toEqualTypeOf(coreRequestId);
    expectTypeOf(contextvars()).toEqualTypeOf<ContextVarsMiddleware<IncomingMessage>>();
    expectTypeOf<ContextVarsMiddleware>().parameters.toEqualTypeOf<
      [IncomingMessage, ServerResponse, (err?: unknown) => void]
    >();
  });

  it('is an Express middleware; onRequest may return anything', () => {
    const user = new ContextVar<string>('user');
    const app = express();
    // The one-liner of the READMEs: `set` returns a Token.
    app.use(
      contextvars({
        onRequest: async (req) => user.set(await authenticate(req.headers.authorization)),
      }),
    );
    // With Express's own request type, for its extra members.
    app.use(contextvars<Request>({ onRequest: (req) => user.set(req.path) }));
    app.use(contextvars({ requestIdHeader: false, echoRequestId: false }));
    expectTypeOf<ContextVarsExpressOptions['onRequest']>().toEqualTypeOf<
      ((req: IncomingMessage) => unknown) | undefined
    >();
    // @ts-expect-error a generator returns a string
    contextvars({ generateRequestId: () => 42 });
  });
});
