import {
  boundContext,
  Context,
  type ContextEnteredError,
  ContextVar,
  type ContextVarsError,
  copyContext,
  type InvalidArgTypeError,
  independent,
  LookupError,
  requestId,
  type Token,
  type TokenUsedError,
  wrap,
} from '@contextvars/core';
import { describe, expectTypeOf, it } from 'vitest';

describe('@contextvars/core public types', () => {
  it('ContextVar: get, get(fallback), set → Token, reset, delete', () => {
    const v = new ContextVar<number>('n', { default: 1 });
    expectTypeOf(v.name).toEqualTypeOf<string>();
    expectTypeOf(v.get()).toEqualTypeOf<number>();
    // The fallback's own type joins the var's: Python's get(default).
    expectTypeOf(v.get(undefined)).toEqualTypeOf<number | undefined>();
    expectTypeOf(v.get('none' as const)).toEqualTypeOf<number | 'none'>();
    expectTypeOf(v.set(2)).toEqualTypeOf<Token<number>>();
    expectTypeOf(v.reset).parameter(0).toEqualTypeOf<Token<number>>();
    expectTypeOf(v.delete).returns.toBeVoid();
    // @ts-expect-error a ContextVar<number> takes numbers only
    v.set('two');
    // @ts-expect-error a token of another type of var
    v.reset(new ContextVar<string>('s').set('x'));
    // @ts-expect-error the name is read-only
    v.name = 'other';
  });

  it('Token: var, oldValue (or MISSING), used, Disposable', () => {
    const t = new ContextVar<string>('s').set('x');
    expectTypeOf(t.var).toEqualTypeOf<ContextVar<string>>();
    expectTypeOf(t.oldValue).toEqualTypeOf<string | typeof Token.MISSING>();
    expectTypeOf(t.used).toEqualTypeOf<boolean>();
    expectTypeOf(t).toExtend<Disposable>();
  });

  it('Context: run keeps the function types, a ReadonlyMap of vars', () => {
    const ctx = copyContext();
    expectTypeOf(ctx).toEqualTypeOf<Context>();
    expectTypeOf(new Context()).toExtend<ReadonlyMap<ContextVar<unknown>, unknown>>();
    expectTypeOf(ctx.run((a: number, b: string) => `${a}${b}`, 1, 'x')).toEqualTypeOf<string>();
    expectTypeOf(ctx.run(async () => 1)).toEqualTypeOf<Promise<number>>();
    // @ts-expect-error the arguments are checked against the function
    ctx.run((a: number) => a, 'x');
    expectTypeOf(ctx.copy()).toEqualTypeOf<Context>();
    const v = new ContextVar<number>('n');
    expectTypeOf(ctx.get(v)).toEqualTypeOf<number | undefined>();
    expectTypeOf(ctx.get(v, 'd' as const)).toEqualTypeOf<number | 'd'>();
    expectTypeOf(ctx.has(v)).toEqualTypeOf<boolean>();
    expectTypeOf(ctx.size).toEqualTypeOf<number>();
  });

  it('bind and wrap return the function type they receive', () => {
    const fn = (a: number): string => String(a);
    expectTypeOf(wrap(fn)).toEqualTypeOf<typeof fn>();
    expectTypeOf(copyContext().bind(fn)).toEqualTypeOf<typeof fn>();
  });

  it('independent keeps the generator type', () => {
    function* gen(): Generator<number, string, boolean> {
      yield 1;
      return 'done';
    }
    async function* agen(): AsyncGenerator<number> {
      yield 1;
    }
    expectTypeOf(independent(gen())).toEqualTypeOf<Generator<number, string, boolean>>();
    expectTypeOf(independent(agen(), new Context())).toEqualTypeOf<AsyncGenerator<number>>();
    // @ts-expect-error only generators
    independent([1, 2, 3]);
  });

  it('requestId is a ContextVar<string>; errors are Errors with codes', () => {
    expectTypeOf(requestId).toEqualTypeOf<ContextVar<string>>();
    expectTypeOf(new LookupError('x')).toExtend<ContextVarsError>();
    expectTypeOf<TokenUsedError>().toExtend<Error>();
    expectTypeOf<ContextEnteredError>().toHaveProperty('code');
    expectTypeOf<InvalidArgTypeError>().toExtend<TypeError>();
  });

  it('boundContext: an object in, a Context or undefined out', () => {
    expectTypeOf(boundContext).parameter(0).toEqualTypeOf<object>();
    expectTypeOf(boundContext({})).toEqualTypeOf<Context | undefined>();
    // @ts-expect-error a primitive is never bound
    boundContext('emitter');
  });
});
