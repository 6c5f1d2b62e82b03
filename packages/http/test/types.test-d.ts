import type { IncomingMessage } from 'node:http';
import { ContextVar, type Token } from '@contextvars/core';
import {
  generateRequestId,
  isValidRequestId,
  MAX_REQUEST_ID_LENGTH,
  RequestScope,
  type RequestScopeOptions,
  requestId,
} from '@contextvars/http';
import { NodeRequestScope, requestContextOf, runInRequestContext } from '@contextvars/http/node';
import { describe, expectTypeOf, it } from 'vitest';

describe('@contextvars/http public types', () => {
  it('onRequest may return anything: a Token, a promise of one, nothing', () => {
    const user = new ContextVar<string>('user');
    const options: RequestScopeOptions<{ user: string }>[] = [
      { onRequest: (req) => user.set(req.user) },
      { onRequest: async (req) => user.set(await Promise.resolve(req.user)) },
      { onRequest: (req) => void user.set(req.user) },
      {},
    ];
    expectTypeOf(options).toBeArray();
    expectTypeOf(user.set('x')).toEqualTypeOf<Token<string>>();
  });

  it('the id policy', () => {
    expectTypeOf(isValidRequestId).guards.toEqualTypeOf<string>();
    expectTypeOf(generateRequestId()).toEqualTypeOf<string>();
    expectTypeOf(MAX_REQUEST_ID_LENGTH).toEqualTypeOf<number>();
    expectTypeOf(requestId.get()).toEqualTypeOf<string>();
  });

  it('the neutral scope and its Node form', () => {
    const scope = new RequestScope<{ url: string }>({ requestIdHeader: 'x-id' });
    expectTypeOf(scope.idFrom('x', { url: '/' })).toEqualTypeOf<string>();
    expectTypeOf(scope.run(() => 1)).toEqualTypeOf<number>();
    expectTypeOf(scope.start({ url: '/' }, 'id')).toEqualTypeOf<undefined | Promise<unknown>>();
    const node = new NodeRequestScope<IncomingMessage>();
    expectTypeOf(node).toExtend<RequestScope<IncomingMessage>>();
    expectTypeOf(requestContextOf).returns.toEqualTypeOf<ReturnType<typeof requestContextOf>>();
    expectTypeOf(runInRequestContext<number>).returns.toEqualTypeOf<number>();
  });
});
