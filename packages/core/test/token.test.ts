import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  Context,
  ContextVar,
  copyContext,
  IllegalConstructorError,
  InvalidArgTypeError,
  Token,
  TokenUsedError,
  TokenWrongContextError,
  TokenWrongVarError,
} from '../src/index.js';
import { thrown } from './helpers.js';

describe('Token', () => {
  it('records the var and the old value (MISSING when unset)', () => {
    const v = new ContextVar<number>('tok');
    new Context().run(() => {
      const t1 = v.set(1);
      expect(t1.var).toBe(v);
      expect(t1.oldValue).toBe(Token.MISSING);
      expect(t1.used).toBe(false);
      const t2 = v.set(2);
      expect(t2.oldValue).toBe(1);
      v.reset(t2);
      expect(t2.used).toBe(true);
      expect(v.get()).toBe(1);
      v.reset(t1);
      expect(v.get(undefined)).toBeUndefined();
      expect(copyContext().has(v)).toBe(false);
    });
  });

  it('cannot be created by user code', () => {
    const err = thrown(
      () => new (Token as any)(Symbol('x'), new ContextVar('a'), new Context(), 1),
    );
    expect(err).toBeInstanceOf(IllegalConstructorError);
    expect(err.code).toBe('ERR_ILLEGAL_CONSTRUCTOR');
  });

  it('can be used only once', () => {
    const v = new ContextVar<number>('once');
    new Context().run(() => {
      const t = v.set(1);
      v.reset(t);
      const err = thrown(() => v.reset(t));
      expect(err).toBeInstanceOf(TokenUsedError);
      expect(err.code).toBe('ERR_TOKEN_USED');
      expect(err.message).toContain('once');
    });
  });

  it('only by the var that created it', () => {
    const a = new ContextVar<number>('a');
    const b = new ContextVar<number>('b');
    new Context().run(() => {
      const t = a.set(1);
      const err = thrown(() => b.reset(t as unknown as Token<number>));
      expect(err).toBeInstanceOf(TokenWrongVarError);
      expect(err.code).toBe('ERR_TOKEN_WRONG_VAR');
      expect(err.message).toContain('"a"');
      expect(t.used).toBe(false);
      a.reset(t);
    });
  });

  it('only in the Context where it was created', () => {
    const v = new ContextVar<number>('ctxbound');
    const ctx1 = new Context();
    const ctx2 = new Context();
    const t = ctx1.run(() => v.set(1));
    const err = ctx2.run(() => thrown(() => v.reset(t)));
    expect(err).toBeInstanceOf(TokenWrongContextError);
    expect(err.code).toBe('ERR_TOKEN_WRONG_CONTEXT');
    // Nor in a copy of it.
    const copy = ctx1.copy();
    expect(copy.run(() => thrown(() => v.reset(t))).code).toBe('ERR_TOKEN_WRONG_CONTEXT');
    // Outside any run (the root context) either.
    expect(thrown(() => v.reset(t)).code).toBe('ERR_TOKEN_WRONG_CONTEXT');
    expect(t.used).toBe(false);
    ctx1.run(() => v.reset(t));
    expect(ctx1.has(v)).toBe(false);
  });

  it('checks used before var before context, as CPython does', () => {
    const a = new ContextVar<number>('a');
    const b = new ContextVar<number>('b');
    const ctx = new Context();
    const t = ctx.run(() => a.set(1));
    ctx.run(() => a.reset(t));
    expect(thrown(() => b.reset(t as never)).code).toBe('ERR_TOKEN_USED');
    const t2 = ctx.run(() => a.set(2));
    expect(thrown(() => b.reset(t2 as never)).code).toBe('ERR_TOKEN_WRONG_VAR');
  });

  it('reset() with something that is not a Token is a typed error', () => {
    const v = new ContextVar<number>('typed');
    for (const bad of [undefined, null, 1, {}, { var: v, oldValue: 1, used: false }]) {
      const err = thrown(() => v.reset(bad as never));
      expect(err).toBeInstanceOf(InvalidArgTypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
      expect(err.message).toContain('typed');
    }
  });

  it('`using` resets the var at the end of the block', () => {
    const v = new ContextVar<string>('using', { default: 'outer' });
    new Context().run(() => {
      {
        using _t = v.set('inner');
        expect(v.get()).toBe('inner');
      }
      expect(v.get()).toBe('outer');
    });
  });

  it('`using` resets on exceptions too, and is a no-op on a used token', () => {
    const v = new ContextVar<number>('using2', { default: 0 });
    new Context().run(() => {
      expect(() => {
        using _t = v.set(1);
        throw new Error('boom');
      }).toThrow('boom');
      expect(v.get()).toBe(0);
      const t = v.set(5);
      v.reset(t);
      t[Symbol.dispose]();
      expect(v.get()).toBe(0);
    });
  });

  it('inspect shows the var and whether it is used', () => {
    const v = new ContextVar<number>('shown');
    new Context().run(() => {
      const t = v.set(1);
      expect(inspect(t)).toContain('shown');
      expect(String(t)).toContain('used=false');
    });
  });
});
