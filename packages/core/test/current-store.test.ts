import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Context,
  ContextEnteredError,
  ContextVar,
  copyContext,
  ScopedValue,
  type ScopeToken,
} from '../src/index.js';

// Where AsyncLocalStorage rides on async_hooks, the current store is remembered per
// async id (current-store.ts). Each test here does the same switches on a raw
// AsyncLocalStorage beside ours, and checks after every step that what ours reads
// is what the raw one reads: across AsyncResource scopes entered and re-entered,
// attaches that stick to a resource, immediates and promise continuations.

interface Truth {
  span: number | undefined;
  user: number | undefined;
}

type Op =
  | { k: 'run'; v: number; body: Op[] }
  | { k: 'fresh'; v: number; body: Op[] }
  | { k: 'copy'; body: Op[] }
  | { k: 'top'; body: Op[] }
  | { k: 'attach'; v: number }
  | { k: 'dispose' }
  | { k: 'resource' }
  | { k: 'in'; r: number; body: Op[] }
  | { k: 'immediate'; body: Op[] }
  | { k: 'then'; body: Op[] };

const ops: fc.Arbitrary<Op[]> = fc.letrec<{ list: Op[]; op: Op }>((tie) => ({
  list: fc.array(tie('op'), { maxLength: 5 }),
  op: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ k: fc.constant('attach' as const), v: fc.nat(9) }),
    fc.record({ k: fc.constant('dispose' as const) }),
    fc.record({ k: fc.constant('resource' as const) }),
    fc.record({ k: fc.constant('run' as const), v: fc.nat(9), body: tie('list') }),
    fc.record({ k: fc.constant('fresh' as const), v: fc.nat(9), body: tie('list') }),
    fc.record({ k: fc.constant('copy' as const), body: tie('list') }),
    fc.record({ k: fc.constant('top' as const), body: tie('list') }),
    fc.record({ k: fc.constant('in' as const), r: fc.nat(), body: tie('list') }),
    fc.record({ k: fc.constant('immediate' as const), body: tie('list') }),
    fc.record({ k: fc.constant('then' as const), body: tie('list') }),
  ),
})).list;

async function agreeWithRawStorage(program: Op[]): Promise<void> {
  const span = new ScopedValue<number>('span');
  const user = new ContextVar<number | undefined>('user', { default: undefined });
  const truth = new AsyncLocalStorage<Truth>();
  const resources: AsyncResource[] = [];
  const tokens: { token: ScopeToken; previous: Truth | undefined }[] = [];
  const pending: Promise<void>[] = [];
  const mismatches: string[] = [];

  const check = (where: string) => {
    const expected = truth.getStore();
    const seen = { span: span.get(), user: user.get() };
    if (seen.span !== expected?.span || seen.user !== expected?.user) {
      mismatches.push(`${where}: read ${JSON.stringify(seen)}, raw ${JSON.stringify(expected)}`);
    }
  };
  const top = new Context();
  const topTruth: Truth = { span: undefined, user: undefined };
  const exec = (list: Op[]): void => {
    for (const op of list) {
      const current = truth.getStore();
      switch (op.k) {
        case 'run':
          // A value already in force is not entered again, as raw `run` does for its store.
          if (current?.span === op.v) span.run(op.v, () => exec(op.body));
          else
            span.run(op.v, () =>
              truth.run({ span: op.v, user: current?.user }, () => exec(op.body)),
            );
          break;
        case 'fresh':
          new Context().run(() => {
            user.set(op.v);
            truth.run({ span: undefined, user: op.v }, () => exec(op.body));
          });
          break;
        case 'copy':
          // A new object: raw `run` with the store already current neither enters nor leaves.
          copyContext().run(() => truth.run({ ...(current as Truth) }, () => exec(op.body)));
          break;
        case 'top':
          // The outermost Context again: refused while it is entered in this call
          // chain; from a callback where it is merely current, neither `run` enters
          // or restores anything.
          try {
            top.run(() => truth.run(topTruth, () => exec(op.body)));
          } catch (err) {
            if (!(err instanceof ContextEnteredError)) throw err;
          }
          break;
        case 'attach':
          tokens.push({ token: span.attach(op.v), previous: current });
          truth.enterWith({ span: op.v, user: current?.user });
          break;
        case 'dispose': {
          const last = tokens.pop();
          if (last === undefined) break;
          last.token.dispose();
          truth.enterWith(last.previous as Truth);
          break;
        }
        case 'resource':
          resources.push(new AsyncResource('current-store.test'));
          break;
        case 'in':
          if (resources.length > 0) {
            resources[op.r % resources.length]!.runInAsyncScope(() => exec(op.body));
          }
          break;
        case 'immediate':
          pending.push(new Promise((done) => setImmediate(() => done(exec(op.body)))));
          break;
        case 'then':
          pending.push(Promise.resolve().then(() => exec(op.body)));
          break;
      }
      check(op.k);
    }
  };

  top.run(() => truth.run(topTruth, () => exec(program)));
  while (pending.length > 0) await pending.shift();
  expect(mismatches).toEqual([]);
}

describe('the current store, as read by every API', () => {
  it('is what AsyncLocalStorage reads, whatever switches and async hops come between (model-based)', async () => {
    await fc.assert(fc.asyncProperty(ops, agreeWithRawStorage), { numRuns: 300 });
  });

  it('follows a store entered on a resource while another Context ran inside it', async () => {
    // An attach inside runInAsyncScope sticks to that resource where stores ride on
    // async_hooks, and leaves with the call under async context frames: either way
    // ours reads what the raw storage reads.
    await agreeWithRawStorage([
      { k: 'resource' },
      { k: 'resource' },
      {
        k: 'in',
        r: 0,
        body: [
          {
            k: 'in',
            r: 1,
            body: [{ k: 'fresh', v: 1, body: [{ k: 'in', r: 0, body: [{ k: 'attach', v: 7 }] }] }],
          },
          { k: 'immediate', body: [{ k: 'in', r: 0, body: [] }] },
        ],
      },
      { k: 'in', r: 0, body: [{ k: 'then', body: [] }] },
      {
        k: 'in',
        r: 0,
        body: [
          {
            k: 'run',
            v: 1,
            body: [
              {
                k: 'in',
                r: 1,
                body: [
                  { k: 'run', v: 2, body: [{ k: 'in', r: 0, body: [{ k: 'attach', v: 7 }] }] },
                ],
              },
            ],
          },
        ],
      },
    ]);
  });

  it('is the request Context in a callback that re-enters it, then the caller one again', async () => {
    const user = new ContextVar<string>('user', { default: 'none' });
    const request = new Context();
    request.run(() => user.set('alice'));
    const other = new Context();
    other.run(() => user.set('bob'));
    const resource = request.run(() => new AsyncResource('current-store.test'));
    const seen: string[] = [];
    other.run(() => {
      seen.push(user.get());
      resource.runInAsyncScope(() => seen.push(user.get()));
      seen.push(user.get());
    });
    await new Promise((done) => setImmediate(done));
    resource.runInAsyncScope(() => seen.push(user.get()));
    expect(seen).toEqual(['bob', 'alice', 'bob', 'alice']);
  });
});
