import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Context, ContextVar } from '@contextvars/core';
import { describe, expect, it } from 'vitest';
import { newShapeAfterSwap } from '../../../test/support/runtime.js';
import { NodeRequestScope, requestContextOf, runInRequestContext } from '../src/node.js';

const user = new ContextVar<string>('node-user', { default: 'anonymous' });
const finished: string[] = [];

/** One real request to a server whose handler is `handle`; resolves with the body. */
async function once(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  body?: string,
): Promise<string> {
  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve, reject) => {
      const req = request(
        { port, host: '127.0.0.1', method: body === undefined ? 'GET' : 'POST' },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

describe('NodeRequestScope on real requests', () => {
  for (const swap of [false, true]) {
    it(`enter binds req and res to a fresh Context${swap ? ', on objects whose prototype Express swapped' : ''}`, async () => {
      const scope = new NodeRequestScope<IncomingMessage>();
      const body = await once((req, res) => {
        if (swap) {
          Object.setPrototypeOf(req, Object.create(Object.getPrototypeOf(req)));
          Object.setPrototypeOf(res, Object.create(Object.getPrototypeOf(res)));
        }
        const before = Reflect.ownKeys(req).length + Reflect.ownKeys(res).length;
        const ctx = scope.enter(req, res);
        const added = Reflect.ownKeys(req).length + Reflect.ownKeys(res).length - before;
        ctx.run(() => user.set('alice'));
        let chunks = '';
        // Added outside the Context: the listeners still run in it.
        req.on('data', (chunk: Buffer) => {
          chunks += `${chunk}:${user.get()}`;
        });
        res.on('finish', () => finished.push(user.get()));
        req.on('end', () => {
          res.end(JSON.stringify({ added, chunks, same: requestContextOf(req) === ctx }));
        });
      }, 'hello');
      // The two bindings, which also say where the request's Context is:
      // properties, except where adding one to a swapped object costs V8 a new
      // shape (before V8 13).
      const added = swap && newShapeAfterSwap ? 0 : 2;
      expect(JSON.parse(body)).toEqual({ added, chunks: 'hello:alice', same: true });
      expect(finished.splice(0)).toEqual(['alice']);
    });
  }

  it('runInRequestContext: the request’s Context when one was entered, else the current one', async () => {
    const scope = new NodeRequestScope<IncomingMessage>();
    const body = await once((req, res) => {
      const before = [requestContextOf(req), runInRequestContext(req, () => user.get())];
      scope.open(req, res, () => user.set('bob'));
      const after = runInRequestContext(req, () => user.get());
      res.end(JSON.stringify({ before, after, outside: user.get() }));
    });
    expect(JSON.parse(body)).toEqual({
      before: [null, 'anonymous'],
      after: 'bob',
      outside: 'anonymous',
    });
  });

  it('each request gets its own Context, and requestContextOf finds it', async () => {
    const scope = new NodeRequestScope<IncomingMessage>();
    const seen: (Context | undefined)[] = [];
    for (let i = 0; i < 2; i++) {
      await once((req, res) => {
        seen.push(scope.enter(req, res), requestContextOf(req));
        res.end();
      });
    }
    expect(seen[0]).toBe(seen[1]);
    expect(seen[2]).toBe(seen[3]);
    expect(seen[0]).not.toBe(seen[2]);
    expect(seen[0]).toBeInstanceOf(Context);
  });
});
