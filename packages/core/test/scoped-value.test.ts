import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  bindEmitter,
  Context,
  ContextVar,
  copyContext,
  InvalidArgTypeError,
  reenter,
  ScopedValue,
  wrap,
} from '../src/index.js';

const v = new ContextVar<string>('scoped', { default: 'unset' });
const span = new ScopedValue<string>('span');

describe('ScopedValue', () => {
  it('is scoped like AsyncLocalStorage#run, across awaits', async () => {
    expect(span.get()).toBeUndefined();
    const inner = span.run('span-1', async () => {
      expect(span.get()).toBe('span-1');
      await sleep(1);
      expect(span.get()).toBe('span-1');
      await span.run('span-2', async () => {
        await sleep(1);
        expect(span.get()).toBe('span-2');
      });
      expect(span.get()).toBe('span-1');
    });
    expect(span.get()).toBeUndefined();
    await inner;
  });

  it('shares the variables of the enclosing Context: a set inside is seen outside', async () => {
    const ctx = new Context();
    await ctx.run(async () => {
      await span.run('span', async () => {
        await sleep(1);
        v.set('set inside the scope');
      });
      expect(v.get()).toBe('set inside the scope');
      expect(span.get()).toBeUndefined();
    });
    expect(ctx.get(v)).toBe('set inside the scope');
  });

  it('tokens made inside a scope can be reset outside it, in the same Context', () => {
    new Context().run(() => {
      const token = span.run('s', () => v.set('x'));
      v.reset(token);
      expect(v.get()).toBe('unset');
    });
  });

  it('snapshots carry the scoped values; running them restores them with the variables', async () => {
    const ctx = new Context();
    const [snap, wrapped] = ctx.run(() =>
      span.run('captured', () => {
        v.set('value');
        return [copyContext(), wrap(() => `${span.get()}|${v.get()}`)] as const;
      }),
    );
    expect(snap.run(() => span.get())).toBe('captured');
    expect(snap.get(v)).toBe('value');
    expect(wrapped()).toBe('captured|value');
    expect(span.get()).toBeUndefined();
    // A copy is isolated: its sets do not reach the Context the scope shared.
    snap.run(() => v.set('in the copy'));
    expect(ctx.get(v)).toBe('value');
  });

  it('new Context() and the root have no scoped value', () => {
    expect(new Context().run(() => span.get())).toBeUndefined();
    expect(span.has()).toBe(false);
  });

  it('each ScopedValue is its own key: owners never see each other', () => {
    const a = new ScopedValue<string>('a');
    const b = new ScopedValue<string>('b');
    a.run('a1', () => {
      expect(b.get()).toBeUndefined();
      b.run('b1', () => {
        expect([a.get(), b.get()]).toEqual(['a1', 'b1']);
        a.run('a2', () => expect([a.get(), b.get()]).toEqual(['a2', 'b1']));
        expect([a.get(), b.get()]).toEqual(['a1', 'b1']);
      });
      expect(b.get()).toBeUndefined();
    });
  });

  it('undefined can be a bound value (has() tells it from no binding)', () => {
    const maybe = new ScopedValue<string | undefined>('maybe');
    maybe.run(undefined, () => expect(maybe.has()).toBe(true));
    expect(maybe.has()).toBe(false);
  });

  it('attach() binds for the rest of the chain until disposed, and `using` disposes', async () => {
    await new Context().run(async () => {
      const token = span.attach('attached');
      await sleep(1);
      expect(span.get()).toBe('attached');
      token.dispose();
      expect(span.get()).toBeUndefined();
      {
        using _ = span.attach('block');
        expect(span.get()).toBe('block');
      }
      expect(span.get()).toBeUndefined();
    });
  });

  it('attach() keeps the variables of the current Context', () => {
    const ctx = new Context();
    ctx.run(() => {
      const token = span.attach('s');
      v.set('after attach');
      token.dispose();
      expect(v.get()).toBe('after attach');
    });
    expect(ctx.get(v)).toBe('after attach');
  });

  it('rejects bad arguments with ERR_INVALID_ARG_TYPE', () => {
    expect(() => new ScopedValue(1 as never)).toThrow(InvalidArgTypeError);
    expect(() => span.run('x', 'nope' as never)).toThrow(InvalidArgTypeError);
    expect(String(span)).toBe('ScopedValue(span)');
  });
});

describe('reenter(ctx, fn)', () => {
  it("runs with ctx's variables and keeps the caller's scoped values", () => {
    const request = new Context();
    request.run(() => v.set('request value'));
    const seen = span.run('instrumentation span', () =>
      reenter(request, () => [v.get(), span.get()]),
    );
    expect(seen).toEqual(['request value', 'instrumentation span']);
  });

  it('ctx.run instead restores the scoped values captured with ctx', () => {
    const snap = span.run('captured', () => copyContext());
    expect(span.run('caller', () => snap.run(() => span.get()))).toBe('captured');
    expect(span.run('caller', () => reenter(snap, () => span.get()))).toBe('caller');
  });

  it('sets inside go to ctx; async work started inside keeps both', async () => {
    const request = new Context();
    const later = span.run('hook', () =>
      reenter(request, async () => {
        v.set('set in the hook');
        await sleep(1);
        return [v.get(), span.get()];
      }),
    );
    expect(await later).toEqual(['set in the hook', 'hook']);
    expect(request.get(v)).toBe('set in the hook');
  });

  it('never throws ERR_CONTEXT_ENTERED, and is a no-op when ctx is already current', () => {
    const ctx = new Context();
    ctx.run(() => {
      v.set('x');
      expect(reenter(ctx, () => v.get())).toBe('x');
      span.run('inner', () => expect(reenter(ctx, () => span.get())).toBe('inner'));
    });
  });

  it('rejects what is not a Context or a function', () => {
    expect(() => reenter({} as never, () => 1)).toThrow(InvalidArgTypeError);
    expect(() => reenter(new Context(), 1 as never)).toThrow(InvalidArgTypeError);
  });
});

describe('bindEmitter and scoped values', () => {
  it('a runner binding (tracing) over a Context binding: both apply', () => {
    const ctx = new Context();
    ctx.run(() => v.set('bound'));
    const ee = bindEmitter(new EventEmitter(), ctx);
    bindEmitter(ee, (call) => span.run('runner', call));
    let seen: unknown[] = [];
    ee.on('x', () => {
      seen = [v.get(), span.get()];
    });
    ee.emit('x');
    expect(seen).toEqual(['bound', 'runner']);
  });

  it('a Context binding over a runner binding keeps the runner inside it', () => {
    const ctx = new Context();
    ctx.run(() => v.set('bound'));
    const ee = bindEmitter(new EventEmitter(), (call) => span.run('runner', call));
    bindEmitter(ee, ctx);
    let seen: unknown[] = [];
    ee.on('x', () => {
      seen = [v.get(), span.get()];
    });
    ee.emit('x');
    expect(seen).toEqual(['bound', 'runner']);
  });
});
