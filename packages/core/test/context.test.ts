import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  Context,
  ContextEnteredError,
  ContextVar,
  copyContext,
  InvalidArgTypeError,
  wrap,
} from '../src/index.js';
import { thrown } from './helpers.js';

describe('Context', () => {
  it('new Context() is empty and takes no arguments', () => {
    const ctx = new Context();
    expect(ctx.size).toBe(0);
    expect([...ctx]).toEqual([]);
    expect(thrown(() => new (Context as any)({})).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('copyContext() returns a Context', () => {
    expect(copyContext()).toBeInstanceOf(Context);
    expect(copyContext()).not.toBe(copyContext());
  });

  it('has the full ReadonlyMap surface', () => {
    const a = new ContextVar<number>('a');
    const b = new ContextVar<string>('b');
    const c = new ContextVar<number>('c');
    const ctx = new Context();
    ctx.run(() => {
      a.set(1);
      b.set('two');
    });
    expect(ctx.size).toBe(2);
    expect(ctx.has(a)).toBe(true);
    expect(ctx.has(c)).toBe(false);
    expect(ctx.get(a)).toBe(1);
    expect(ctx.get(c)).toBeUndefined();
    expect(ctx.get(c, 'fb')).toBe('fb');
    expect(new Set(ctx.keys())).toEqual(new Set([a, b]));
    expect(new Set(ctx.values())).toEqual(new Set([1, 'two']));
    expect(new Map(ctx.entries())).toEqual(
      new Map<unknown, unknown>([
        [a, 1],
        [b, 'two'],
      ]),
    );
    expect(new Map(ctx)).toEqual(
      new Map<unknown, unknown>([
        [a, 1],
        [b, 'two'],
      ]),
    );
    const seen: unknown[] = [];
    const thisArg = {};
    ctx.forEach(function (this: unknown, value, key, map) {
      expect(this).toBe(thisArg);
      expect(map).toBe(ctx);
      seen.push([key.name, value]);
    }, thisArg);
    expect(seen.sort()).toEqual([
      ['a', 1],
      ['b', 'two'],
    ]);
    // A Map built from a Context is a plain copy.
    const m: ReadonlyMap<ContextVar<unknown>, unknown> = ctx;
    expect(m.get(a as ContextVar<unknown>)).toBe(1);
  });

  it('ctx.get / ctx.has with something that is not a ContextVar throw ERR_INVALID_ARG_TYPE', () => {
    const ctx = new Context();
    for (const bad of [1, 'a', null, undefined, {}, { _id: 1, _hash: 1 }]) {
      expect(thrown(() => ctx.get(bad as never)).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(thrown(() => ctx.has(bad as never))).toBeInstanceOf(InvalidArgTypeError);
    }
  });

  it('the var default is not a Context value', () => {
    const v = new ContextVar<number>('d', { default: 3 });
    const ctx = new Context();
    expect(ctx.has(v)).toBe(false);
    expect(ctx.get(v)).toBeUndefined();
  });

  it('inspect and toString show the size', () => {
    const v = new ContextVar<number>('x');
    const ctx = new Context();
    ctx.run(() => v.set(1));
    expect(String(ctx)).toBe('Context(size=1)');
    expect(inspect(ctx)).toBe('Context { size: 1 }');
    expect(Object.prototype.toString.call(ctx)).toBe('[object Context]');
  });
});

describe('Context#run', () => {
  it('needs a function', () => {
    const ctx = new Context();
    for (const bad of [undefined, 1, 'fn', {}]) {
      const err = thrown(() => (ctx.run as any)(bad));
      expect(err).toBeInstanceOf(InvalidArgTypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });

  it('passes arguments and returns the result', () => {
    const ctx = new Context();
    expect(ctx.run((a: number, b: string) => `${a}${b}`, 1, 'x')).toBe('1x');
  });

  it('makes the context current, and restores the previous one after return', () => {
    const v = new ContextVar<string>('cur', { default: 'root' });
    const ctx = new Context();
    ctx.run(() => {
      expect(v.get()).toBe('root');
      v.set('inside');
      expect(v.get()).toBe('inside');
    });
    expect(v.get()).toBe('root');
    expect(ctx.get(v)).toBe('inside');
    // Entering again sees the earlier change: the Context object holds it.
    ctx.run(() => expect(v.get()).toBe('inside'));
  });

  it('changes made before an exception stay in the context; the caller is restored', () => {
    const v = new ContextVar<number>('exc', { default: 0 });
    const ctx = new Context();
    expect(() =>
      ctx.run(() => {
        v.set(1);
        throw new RangeError('x');
      }),
    ).toThrow(RangeError);
    expect(v.get()).toBe(0);
    expect(ctx.get(v)).toBe(1);
    // The context can be entered again after a throw.
    expect(ctx.run(() => v.get())).toBe(1);
  });

  it('nested runs of different contexts', () => {
    const v = new ContextVar<string>('nest', { default: 'root' });
    const ctx1 = new Context();
    const ctx2 = new Context();
    ctx1.run(() => {
      v.set('one');
      ctx2.run(() => {
        expect(v.get()).toBe('root');
        v.set('two');
        expect(copyContext().get(v)).toBe('two');
      });
      expect(v.get()).toBe('one');
    });
    expect(ctx1.get(v)).toBe('one');
    expect(ctx2.get(v)).toBe('two');
  });

  it('running a context already entered in the call chain throws ERR_CONTEXT_ENTERED', () => {
    const ctx = new Context();
    const err = ctx.run(() => thrown(() => ctx.run(() => 1)));
    expect(err).toBeInstanceOf(ContextEnteredError);
    expect(err.code).toBe('ERR_CONTEXT_ENTERED');
    // Also when another context sits between the two.
    const other = new Context();
    expect(ctx.run(() => other.run(() => thrown(() => ctx.run(() => 1)))).code).toBe(
      'ERR_CONTEXT_ENTERED',
    );
    // After the outer run returns, the context can be entered again.
    expect(ctx.run(() => 5)).toBe(5);
  });

  it('a copy of an entered context can be run', () => {
    const v = new ContextVar<number>('copyrun');
    const ctx = new Context();
    ctx.run(() => {
      v.set(1);
      const inner = copyContext();
      inner.run(() => {
        v.set(2);
      });
      expect(v.get()).toBe(1);
      expect(inner.get(v)).toBe(2);
    });
  });
});

describe('copy semantics', () => {
  it('a copy is a snapshot: later changes do not cross either way', () => {
    const v = new ContextVar<number>('snap', { default: 0 });
    const ctx = new Context();
    ctx.run(() => {
      v.set(1);
      const snap = copyContext();
      v.set(2);
      expect(snap.get(v)).toBe(1);
      snap.run(() => v.set(3));
      expect(v.get()).toBe(2);
      expect(snap.get(v)).toBe(3);
    });
    const c2 = ctx.copy();
    expect(c2.get(v)).toBe(2);
    c2.run(() => v.set(9));
    expect(ctx.get(v)).toBe(2);
  });

  it('copyContext outside any run copies the root context', () => {
    const v = new ContextVar<number>('rootcopy', { default: 0 });
    const snap = copyContext();
    expect(snap.has(v)).toBe(false);
    snap.run(() => v.set(1));
    expect(v.get()).toBe(0);
  });
});

describe('Context#bind and wrap', () => {
  it('bind runs the function in the context, with this and arguments', () => {
    const v = new ContextVar<string>('bound', { default: 'root' });
    const ctx = new Context();
    ctx.run(() => v.set('ctx'));
    const self = { tag: 'self' };
    const fn = ctx.bind(function (this: typeof self, a: number) {
      return `${this.tag}:${a}:${v.get()}`;
    });
    expect(fn.call(self, 1)).toBe('self:1:ctx');
    expect(v.get()).toBe('root');
  });

  it('a bound function may be called while its context is current or entered', () => {
    const v = new ContextVar<number>('reenter', { default: 0 });
    const ctx = new Context();
    const bump = ctx.bind(() => v.set(v.get() + 1));
    ctx.run(() => {
      bump();
      new Context().run(() => bump());
    });
    expect(ctx.get(v)).toBe(2);
  });

  it('bind needs a function', () => {
    expect(thrown(() => new Context().bind(3 as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => wrap(null as never)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('wrap captures a copy now; calls share it; the caller is untouched', () => {
    const v = new ContextVar<number>('wrapped', { default: 0 });
    const outer = new Context();
    const fn = outer.run(() => {
      v.set(1);
      const w = wrap(() => {
        const seen = v.get();
        v.set(seen + 10);
        return seen;
      });
      v.set(2); // after the capture: not seen by the wrapped function
      return w;
    });
    expect(fn()).toBe(1);
    expect(fn()).toBe(11);
    expect(outer.get(v)).toBe(2);
    expect(v.get()).toBe(0);
  });
});
