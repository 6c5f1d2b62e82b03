import { setTimeout as sleep } from 'node:timers/promises';
import { ContextVar, copyContext, InvalidArgTypeError, ScopedValue } from '@contextvars/core';
import { describe, expect, it } from 'vitest';
import {
  generateRequestId,
  HTTP_TOKEN,
  isValidRequestId,
  MAX_REQUEST_ID_LENGTH,
  RequestScope,
  requestId,
} from '../src/index.js';

const user = new ContextVar<string>('user', { default: 'anonymous' });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A fetch-style handler on the neutral engine alone: what a Hono-like adapter does. */
function handlerOf(scope: RequestScope<Request>) {
  return (req: Request) =>
    scope.run(async () => {
      const id = scope.idFrom(req.headers.get(scope.header ?? '') ?? undefined, req);
      await scope.start(req, id);
      await sleep(Math.random() * 3);
      return { id: requestId.get(), user: user.get() };
    });
}

describe('RequestScope (framework-neutral)', () => {
  it('a fresh Context per request: values set by onRequest reach the handler, never another request', async () => {
    const scope = new RequestScope<Request>({
      onRequest: async (req) => user.set(new URL(req.url).searchParams.get('u') ?? 'none'),
    });
    const handle = handlerOf(scope);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        handle(new Request(`http://local/?u=u${i}`, { headers: { 'x-request-id': `id-${i}` } })),
      ),
    );
    for (const [i, r] of results.entries()) expect(r).toEqual({ id: `id-${i}`, user: `u${i}` });
    expect(user.get()).toBe('anonymous');
    expect(requestId.get('outside')).toBe('outside');
  });

  it('the id policy: valid incoming kept, anything else replaced by a generated id', () => {
    const scope = new RequestScope<string>({ generateRequestId: (req) => `gen-${req}` });
    expect(scope.idFrom('abc-1', 'r')).toBe('abc-1');
    for (const bad of ['', 'a b', 'a,b', 'x'.repeat(MAX_REQUEST_ID_LENGTH + 1), 'a\r\nb', 42, [1]])
      expect(scope.idFrom(bad, 'r')).toBe('gen-r');
    expect(new RequestScope<string>({ requestIdHeader: false }).header).toBeUndefined();
    expect(new RequestScope<string>({ requestIdHeader: false }).idFrom('abc', 'r')).toMatch(UUID);
    const empty = new RequestScope<string>({ generateRequestId: () => '' });
    expect(empty.newId('r')).toMatch(UUID);
    expect(generateRequestId()).toMatch(UUID);
    expect(isValidRequestId('a'.repeat(MAX_REQUEST_ID_LENGTH))).toBe(true);
  });

  it('echo header: the request id header, or x-request-id when incoming ids are ignored; none when off', () => {
    expect(new RequestScope({ requestIdHeader: 'X-Trace' }).echoHeader).toBe('x-trace');
    expect(new RequestScope({ requestIdHeader: false }).echoHeader).toBe('x-request-id');
    expect(new RequestScope({ echoRequestId: false }).echoHeader).toBeUndefined();
  });

  it('onRequest may return anything; only a thenable is awaited', async () => {
    const scope = new RequestScope<string>({ onRequest: (u) => user.set(u) });
    await scope.run(async () => {
      expect(scope.start('alice', 'id-1')).toBeUndefined();
      expect(user.get()).toBe('alice');
    });
    const thenable = new RequestScope<string>({
      // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise is the case.
      onRequest: () => ({ then: (resolve: (v: unknown) => void) => resolve(user.set('later')) }),
    });
    await thenable.run(async () => {
      await thenable.start('x', 'id-2');
      expect(user.get()).toBe('later');
    });
  });

  it('run() re-enters: a scoped value (an active span) of the caller stays in force', () => {
    const span = new ScopedValue<string>('span');
    const scope = new RequestScope();
    const outer = copyContext();
    const seen = span.run('server span', () =>
      scope.run(() => [span.get(), copyContext() !== outer]),
    );
    expect(seen).toEqual(['server span', true]);
  });

  it('bad options are typed errors with a stable code', () => {
    for (const options of [
      null,
      { requestIdHeader: 'bad header' },
      { requestIdHeader: 5 },
      { generateRequestId: 'x' },
      { onRequest: 1 },
      { echoRequestId: 'yes' },
    ]) {
      expect(() => new RequestScope(options as never)).toThrow(InvalidArgTypeError);
      try {
        new RequestScope(options as never);
      } catch (err) {
        expect((err as { code: string }).code).toBe('ERR_INVALID_ARG_TYPE');
      }
    }
    expect(HTTP_TOKEN.test('x-request-id')).toBe(true);
  });
});

describe('generateRequestId', () => {
  it('UUID-shaped, version 4 layout, and no repeat over many ids', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200_000; i++) {
      const id = generateRequestId();
      expect(id.length).toBe(36);
      seen.add(id);
    }
    expect(seen.size).toBe(200_000);
    for (const id of [...seen].slice(0, 100)) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(isValidRequestId(id)).toBe(true);
    }
  });

  it('consecutive ids do not read as a sequence', () => {
    const tails = Array.from({ length: 5 }, () =>
      Number.parseInt(generateRequestId().slice(28), 16),
    );
    const steps = new Set(tails.slice(1).map((t, i) => (t - tails[i]!) >>> 0));
    expect(steps.size).toBe(4); // no constant step, as a counter or a multiplied counter has
    expect(steps.has(1)).toBe(false);
  });
});
