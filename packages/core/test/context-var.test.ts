import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  Context,
  ContextVar,
  ContextVarsError,
  copyContext,
  InvalidArgTypeError,
  LookupError,
} from '../src/index.js';

describe('ContextVar', () => {
  it('requires a string name and exposes it read-only', () => {
    for (const bad of [1, null, undefined, {}, Symbol('x')]) {
      const err = (() => {
        try {
          new ContextVar(bad as unknown as string);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(InvalidArgTypeError);
      expect(err).toBeInstanceOf(TypeError);
      expect((err as InvalidArgTypeError).code).toBe('ERR_INVALID_ARG_TYPE');
    }
    const v = new ContextVar<number>('aaa');
    expect(v.name).toBe('aaa');
    expect(() => {
      (v as { name: string }).name = 'bbb';
    }).toThrow(TypeError);
    expect(v.name).toBe('aaa');
  });

  it('rejects options that are not an object', () => {
    expect(() => new ContextVar('x', 5 as never)).toThrow(InvalidArgTypeError);
    expect(() => new ContextVar('x', null as never)).toThrow(InvalidArgTypeError);
  });

  it('get(): value, else fallback, else default, else LookupError naming the var', () => {
    const plain = new ContextVar<number>('plain');
    const withDefault = new ContextVar<number>('withDefault', { default: 42 });

    let err: unknown;
    try {
      plain.get();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LookupError);
    expect(err).toBeInstanceOf(ContextVarsError);
    expect(err).toBeInstanceOf(Error);
    expect((err as LookupError).code).toBe('ERR_CONTEXTVAR_LOOKUP');
    expect((err as Error).message).toContain('plain');

    expect(plain.get(7)).toBe(7);
    expect(plain.get(undefined)).toBeUndefined(); // an explicit undefined fallback counts
    expect(withDefault.get()).toBe(42);
    expect(withDefault.get(7)).toBe(7); // the fallback wins over the default, as in Python

    copyContext().run(() => {
      plain.set(1);
      withDefault.set(2);
      expect(plain.get()).toBe(1);
      expect(plain.get(7)).toBe(1);
      expect(withDefault.get(7)).toBe(2);
    });
  });

  it('an explicit default of undefined is a default', () => {
    const v = new ContextVar<string | undefined>('v', { default: undefined });
    expect(v.get()).toBeUndefined();
  });

  it('undefined and null are values: the var is set', () => {
    const v = new ContextVar<unknown>('v', { default: 'dflt' });
    copyContext().run(() => {
      v.set(undefined);
      expect(v.get()).toBeUndefined();
      expect(v.get('fallback')).toBeUndefined();
      const ctx = copyContext();
      expect(ctx.has(v)).toBe(true);
      expect(ctx.get(v, 'fallback')).toBeUndefined();
      expect(ctx.size).toBe(1);
      v.set(null);
      expect(v.get()).toBeNull();
    });
  });

  it('delete() removes the value from the current context only', () => {
    const v = new ContextVar<number>('deletable', { default: 0 });
    const ctx = new Context();
    ctx.run(() => {
      v.set(5);
      const snap = copyContext();
      v.delete();
      expect(v.get()).toBe(0);
      expect(snap.get(v)).toBe(5);
      expect(() => v.delete()).toThrow(LookupError);
      try {
        v.delete();
      } catch (e) {
        expect((e as LookupError).code).toBe('ERR_CONTEXTVAR_LOOKUP');
        expect((e as Error).message).toContain('deletable');
      }
    });
    expect(ctx.has(v)).toBe(false);
  });

  it('values can be anything and are returned by identity', () => {
    const v = new ContextVar<unknown>('any');
    const values = [0, -0, Number.NaN, '', false, Symbol('s'), 10n, {}, [], () => 1, new Map()];
    copyContext().run(() => {
      for (const value of values) {
        v.set(value);
        expect(Object.is(v.get(), value)).toBe(true);
      }
    });
  });

  it('a mutable value is shared by reference, as in Python', () => {
    const v = new ContextVar<number[]>('list');
    const ctx = new Context();
    ctx.run(() => {
      v.set([1]);
      v.get().push(2);
    });
    expect(ctx.get(v)).toEqual([1, 2]);
  });

  it('inspect and toString show the name and the default', () => {
    const a = new ContextVar('a', { default: 1 });
    const b = new ContextVar('b');
    expect(String(a)).toBe('ContextVar(name="a", default=1)');
    expect(String(b)).toBe('ContextVar(name="b")');
    expect(inspect(a)).toContain('"a"');
    expect(inspect(a)).toContain('default: 1');
    expect(Object.prototype.toString.call(a)).toBe('[object ContextVar]');
  });

  it('vars with the same name are different vars', () => {
    const a = new ContextVar<number>('same');
    const b = new ContextVar<number>('same');
    copyContext().run(() => {
      a.set(1);
      expect(b.get(undefined)).toBeUndefined();
    });
  });

  it('works with thousands of vars in one context', () => {
    const vars = Array.from({ length: 3000 }, (_, i) => new ContextVar<number>(`v${i}`));
    const ctx = new Context();
    ctx.run(() => {
      for (const [i, v] of vars.entries()) v.set(i);
      for (const [i, v] of vars.entries()) expect(v.get()).toBe(i);
    });
    expect(ctx.size).toBe(3000);
    for (const [i, v] of vars.entries()) expect(ctx.get(v)).toBe(i);
  });
});
