import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context, ContextVar, copyContext, wrap } from '@contextvars/core';
import { type ContextManager, createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContextVarsContextManager } from '../src/index.js';

const key1 = createContextKey('key1');
const key2 = createContextKey('key2');
// The reference manager may bring its own copy of the API, hence its own ROOT_CONTEXT object.
const isRoot = (ctx: { getValue(k: symbol): unknown }) =>
  ctx.getValue(key1) === undefined && ctx.getValue(key2) === undefined;

// The same behaviour cases run against OpenTelemetry's own manager: ours must match it.
describe.each([
  ['ContextVarsContextManager', () => new ContextVarsContextManager()],
  ['AsyncLocalStorageContextManager (reference)', () => new AsyncLocalStorageContextManager()],
] as Array<[string, () => ContextManager]>)('%s', (_name, create) => {
  let manager: ContextManager;
  beforeEach(() => {
    manager = create().enable();
  });
  afterEach(() => {
    manager.disable();
  });

  describe('.enable() / .disable()', () => {
    it('active() is ROOT_CONTEXT by default and after disable', () => {
      expect(isRoot(manager.active())).toBe(true);
      manager.disable();
      expect(isRoot(manager.active())).toBe(true);
    });
  });

  describe('.with()', () => {
    it('runs the callback with the context, returns its value, restores afterwards', () => {
      const ctx = ROOT_CONTEXT.setValue(key1, 'one');
      const result = manager.with(ctx, () => {
        expect(manager.active()).toBe(ctx);
        return 'result';
      });
      expect(result).toBe('result');
      expect(isRoot(manager.active())).toBe(true);
    });

    it('passes thisArg and arguments', () => {
      const self = { tag: 'self' };
      const out = manager.with(
        ROOT_CONTEXT,
        function (this: typeof self, a: number, b: string) {
          return `${this.tag}:${a}:${b}`;
        },
        self,
        1,
        'x',
      );
      expect(out).toBe('self:1:x');
    });

    it('restores the context after the callback throws', () => {
      const ctx = ROOT_CONTEXT.setValue(key1, 'one');
      expect(() =>
        manager.with(ctx, () => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(isRoot(manager.active())).toBe(true);
    });

    it('nests, and restores each level', () => {
      const ctx1 = ROOT_CONTEXT.setValue(key1, 'one');
      const ctx2 = ctx1.setValue(key2, 'two');
      manager.with(ctx1, () => {
        expect(manager.active()).toBe(ctx1);
        manager.with(ctx2, () => {
          expect(manager.active()).toBe(ctx2);
          expect(manager.active().getValue(key1)).toBe('one');
        });
        expect(manager.active()).toBe(ctx1);
      });
      expect(isRoot(manager.active())).toBe(true);
    });

    it('keeps the context across timers, promises and await, and does not leak it', async () => {
      const ctx = ROOT_CONTEXT.setValue(key1, 'async');
      const seen = await manager.with(ctx, async () => {
        const out: unknown[] = [];
        await sleep(1);
        out.push(manager.active().getValue(key1));
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            out.push(manager.active().getValue(key1));
            resolve();
          }, 1),
        );
        await Promise.resolve().then(() => out.push(manager.active().getValue(key1)));
        return out;
      });
      expect(seen).toEqual(['async', 'async', 'async']);
      expect(isRoot(manager.active())).toBe(true);
    });

    it('two concurrent with() calls never see each other', async () => {
      const run = (value: string) =>
        manager.with(ROOT_CONTEXT.setValue(key1, value), async () => {
          await sleep(value === 'a' ? 5 : 1);
          return manager.active().getValue(key1);
        });
      expect(await Promise.all([run('a'), run('b')])).toEqual(['a', 'b']);
    });
  });

  describe('.bind(function)', () => {
    it('runs the function in the bound context, wherever it is called', () => {
      const ctx = ROOT_CONTEXT.setValue(key1, 'bound');
      const fn = manager.bind(ctx, (a: number) => [manager.active(), a] as const);
      expect(fn(5)).toEqual([ctx, 5]);
      const other = ROOT_CONTEXT.setValue(key1, 'other');
      expect(manager.with(other, () => fn(1))[0]).toBe(ctx);
      expect(fn.length).toBe(1);
    });

    it('returns non-functions and non-emitters unchanged', () => {
      const obj = { a: 1 };
      expect(manager.bind(ROOT_CONTEXT, obj)).toBe(obj);
    });
  });

  describe('.bind(EventEmitter)', () => {
    it('listeners run in the bound context; removal by the original works', () => {
      const ctx = ROOT_CONTEXT.setValue(key1, 'ee');
      const ee = manager.bind(ctx, new EventEmitter());
      const seen: unknown[] = [];
      const listener = () => seen.push(manager.active());
      ee.on('test', listener);
      expect(ee.listeners('test')).toHaveLength(1);
      ee.emit('test');
      expect(seen).toEqual([ctx]);
      ee.off('test', listener);
      expect(ee.listeners('test')).toHaveLength(0);
      ee.addListener('test', listener);
      ee.removeListener('test', listener);
      expect(ee.listenerCount('test')).toBe(0);
    });

    it('once listeners run once in the bound context', () => {
      const ctx = ROOT_CONTEXT.setValue(key1, 'once');
      const ee = manager.bind(ctx, new EventEmitter());
      const seen: unknown[] = [];
      ee.once('test', () => seen.push(manager.active()));
      ee.emit('test');
      ee.emit('test');
      expect(seen).toEqual([ctx]);
      expect(ee.listenerCount('test')).toBe(0);
    });

    it('removeAllListeners removes bound listeners', () => {
      const ee = manager.bind(ROOT_CONTEXT.setValue(key1, 'x'), new EventEmitter());
      ee.on('a', () => {});
      ee.on('a', () => {});
      ee.on('b', () => {});
      ee.removeAllListeners('a');
      expect(ee.listenerCount('a')).toBe(0);
      expect(ee.listenerCount('b')).toBe(1);
      ee.removeAllListeners();
      expect(ee.listenerCount('b')).toBe(0);
    });

    it('a listener emitted from inside another context still sees the bound one', () => {
      const bound = ROOT_CONTEXT.setValue(key1, 'bound');
      const ee = manager.bind(bound, new EventEmitter());
      let seen: unknown;
      ee.on('x', () => {
        seen = manager.active();
      });
      manager.with(ROOT_CONTEXT.setValue(key1, 'emitter'), () => ee.emit('x'));
      expect(seen).toBe(bound);
    });
  });
});

/** A manager with api 1.10's experimental `attach` (the dev API may be the 1.9 line). */
type Attachable = ContextManager & {
  attach(context: ReturnType<ContextManager['active']>): { dispose(): void };
};

// What OpenTelemetry's own context-manager tests check, as cases of ours, against both.
describe.each([
  ['ContextVarsContextManager', () => new ContextVarsContextManager()],
  ['AsyncLocalStorageContextManager (reference)', () => new AsyncLocalStorageContextManager()],
] as Array<[string, () => Attachable]>)(
  'OpenTelemetry context-manager contract: %s',
  (_name, create) => {
    let manager: Attachable;
    let other: ContextManager | undefined;
    beforeEach(() => {
      manager = create().enable();
    });
    afterEach(() => {
      manager.disable();
      other?.disable();
      other = undefined;
    });
    const one = ROOT_CONTEXT.setValue(key1, 1);
    const two = ROOT_CONTEXT.setValue(key1, 2);
    const three = ROOT_CONTEXT.setValue(key1, 3);

    it('enable() and disable() return the manager', () => {
      const fresh = create();
      expect(fresh.enable()).toBe(fresh);
      expect(fresh.disable()).toBe(fresh);
    });

    it('with() runs the callback while disabled too', () => {
      manager.disable();
      expect(manager.with(one, () => manager.active())).toBe(one);
    });

    it('with() accepts a null context', () => {
      expect(isRoot(manager.with(null as never, () => manager.active()))).toBe(true);
    });

    it('an async function started in a nested with() keeps the nested context', async () => {
      const pending = manager.with(one, () =>
        manager.with(two, async () => {
          await sleep(1);
          return manager.active();
        }),
      );
      expect(isRoot(manager.active())).toBe(true);
      expect(await pending).toBe(two);
    });

    it('timers with the same timeout started in different contexts keep theirs', async () => {
      const seen = await Promise.all(
        [one, two, ROOT_CONTEXT].map((ctx) =>
          manager.with(
            ctx,
            () => new Promise<unknown>((resolve) => setTimeout(() => resolve(manager.active()), 5)),
          ),
        ),
      );
      expect(seen[0]).toBe(one);
      expect(seen[1]).toBe(two);
      expect(isRoot(seen[2] as typeof one)).toBe(true);
    });

    it('with() of one instance is not seen by another', () => {
      other = create().enable();
      manager.with(one, () => {
        expect(manager.active()).toBe(one);
        expect(isRoot(other!.active())).toBe(true);
        other!.with(two, () => {
          expect(manager.active()).toBe(one);
          expect(other!.active()).toBe(two);
        });
      });
    });

    it('bind(function) of two instances compose, each seeing its own', () => {
      other = create().enable();
      const fn = other.bind(
        two,
        manager.bind(one, () => [manager.active(), other!.active()]),
      );
      expect(fn()).toEqual([one, two]);
    });

    it('bind(function) while disabled still runs in the bound context', () => {
      manager.disable();
      expect(manager.bind(one, () => manager.active())()).toBe(one);
    });

    it('bind(function) keeps the context for async work the function starts', async () => {
      const fn = manager.bind(
        one,
        () => new Promise<unknown>((resolve) => setTimeout(() => resolve(manager.active()), 2)),
      );
      expect(await fn()).toBe(one);
    });

    it('bind(emitter) of two instances compose, each seeing its own', () => {
      other = create().enable();
      const ee = other.bind(two, manager.bind(one, new EventEmitter()));
      let seen: unknown[] = [];
      ee.on('test', () => {
        seen = [manager.active(), other!.active()];
      });
      ee.emit('test');
      expect(seen).toEqual([one, two]);
    });

    it('bind(emitter) while disabled; async work in a listener keeps the context', async () => {
      manager.disable();
      const ee = manager.bind(one, new EventEmitter());
      const seen = new Promise<unknown>((resolve) =>
        ee.on('test', () => setImmediate(() => resolve(manager.active()))),
      );
      ee.emit('test');
      expect(await seen).toBe(one);
    });

    it('a new instance sees nothing of what a disabled one had made active', () => {
      manager.with(one, () => {
        manager.disable();
        expect(isRoot(manager.active())).toBe(true);
        other = create().enable();
        expect(isRoot(other.active())).toBe(true);
      });
    });

    describe('attach()', () => {
      it('makes the context active until the token is disposed', () => {
        const token = manager.attach(one);
        expect(manager.active()).toBe(one);
        token.dispose();
        expect(isRoot(manager.active())).toBe(true);
      });

      it('nests; each dispose restores the level before it', () => {
        const t1 = manager.attach(one);
        const t2 = manager.attach(two);
        const t3 = manager.attach(three);
        expect(manager.active()).toBe(three);
        t3.dispose();
        expect(manager.active()).toBe(two);
        t2.dispose();
        expect(manager.active()).toBe(one);
        t1.dispose();
        expect(isRoot(manager.active())).toBe(true);
      });

      it('disposing twice restores once', () => {
        const t1 = manager.attach(one);
        const t2 = manager.attach(two);
        t2.dispose();
        t2.dispose();
        expect(manager.active()).toBe(one);
        t1.dispose();
      });

      it('the attached context survives awaits, timers and promise callbacks', async () => {
        const token = manager.attach(one);
        await new Promise((resolve) => setImmediate(resolve));
        expect(manager.active()).toBe(one);
        expect(await Promise.resolve().then(() => manager.active())).toBe(one);
        token.dispose();
        expect(isRoot(manager.active())).toBe(true);
      });

      it('with() inside an attach restores the attached context; attach inside with() is undone by dispose', () => {
        const t1 = manager.attach(one);
        manager.with(two, () => {
          expect(manager.active()).toBe(two);
          const t3 = manager.attach(three);
          expect(manager.active()).toBe(three);
          t3.dispose();
          expect(manager.active()).toBe(two);
        });
        expect(manager.active()).toBe(one);
        expect(manager.bind(two, () => manager.active())()).toBe(two);
        expect(manager.active()).toBe(one);
        t1.dispose();
        expect(isRoot(manager.active())).toBe(true);
      });

      it('sequences of attach and dispose', () => {
        for (const ctx of [one, two]) {
          const token = manager.attach(ctx);
          expect(manager.active()).toBe(ctx);
          token.dispose();
          expect(isRoot(manager.active())).toBe(true);
        }
      });

      it('never leaks into a concurrent sibling chain', async () => {
        const chain = (ctx: typeof one, ms: number) =>
          new Promise<unknown>((resolve) =>
            setTimeout(() => {
              const token = manager.attach(ctx);
              setTimeout(() => {
                const seen = manager.active();
                token.dispose();
                resolve(seen);
              }, ms);
            }, ms),
          );
        expect(await Promise.all([chain(one, 10), chain(two, 5)])).toEqual([one, two]);
        expect(isRoot(manager.active())).toBe(true);
      });

      it('works while disabled', () => {
        manager.disable();
        const token = manager.attach(one);
        expect(manager.active()).toBe(one);
        token.dispose();
        expect(isRoot(manager.active())).toBe(true);
      });
    });
  },
);

describe('ContextVarsContextManager and contextvars together', () => {
  const manager = new ContextVarsContextManager().enable();
  const user = new ContextVar<string>('user', { default: 'none' });

  it('a var set inside with() stays visible after it; the span scoping still holds', async () => {
    const request = new Context();
    const span = ROOT_CONTEXT.setValue(key1, 'hook span');
    await request.run(async () => {
      // What an instrumentation does around a hook:
      await manager.with(span, async () => {
        await sleep(1);
        user.set('alice'); // the app's hook sets a var
        expect(manager.active()).toBe(span);
      });
      expect(manager.active()).toBe(ROOT_CONTEXT); // the caller does not see the inner span
      expect(user.get()).toBe('alice'); // but it sees the var
      await manager.with(ROOT_CONTEXT.setValue(key1, 'handler span'), async () => {
        expect(user.get()).toBe('alice'); // and so does the next hook
      });
    });
    expect(request.get(user)).toBe('alice');
  });

  it('copyContext() captures the active span; running the snapshot restores it with the vars', async () => {
    const span = ROOT_CONTEXT.setValue(key1, 'captured');
    const [snapshot, wrapped] = new Context().run(() =>
      manager.with(span, () => {
        user.set('bob');
        return [copyContext(), wrap(() => [manager.active(), user.get()])] as const;
      }),
    );
    expect(manager.active()).toBe(ROOT_CONTEXT);
    expect(snapshot.run(() => manager.active())).toBe(span);
    expect(snapshot.run(() => user.get())).toBe('bob');
    await sleep(1);
    expect(wrapped()).toEqual([span, 'bob']);
  });
});
