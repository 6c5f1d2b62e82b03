import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  Context,
  ContextVar,
  copyContext,
  getScopedValue,
  runWithScopedValue,
  wrap,
} from '../src/index.js';

const v = new ContextVar<string>('scoped', { default: 'unset' });

describe('scoped values (the slot the OpenTelemetry bridge uses)', () => {
  it('is scoped like AsyncLocalStorage#run, across awaits', async () => {
    expect(getScopedValue()).toBeUndefined();
    const inner = runWithScopedValue('span-1', async () => {
      expect(getScopedValue()).toBe('span-1');
      await sleep(1);
      expect(getScopedValue()).toBe('span-1');
      await runWithScopedValue('span-2', async () => {
        await sleep(1);
        expect(getScopedValue()).toBe('span-2');
      });
      expect(getScopedValue()).toBe('span-1');
    });
    expect(getScopedValue()).toBeUndefined();
    await inner;
  });

  it('shares the variables of the enclosing Context: a set inside is seen outside', async () => {
    const ctx = new Context();
    await ctx.run(async () => {
      await runWithScopedValue('span', async () => {
        await sleep(1);
        v.set('set inside the scope');
      });
      expect(v.get()).toBe('set inside the scope');
      expect(getScopedValue()).toBeUndefined();
    });
    expect(ctx.get(v)).toBe('set inside the scope');
  });

  it('tokens made inside a scope can be reset outside it, in the same Context', () => {
    new Context().run(() => {
      const token = runWithScopedValue('s', () => v.set('x'));
      v.reset(token);
      expect(v.get()).toBe('unset');
    });
  });

  it('snapshots carry the scoped value; running them restores it with the variables', async () => {
    const ctx = new Context();
    const [snap, wrapped] = ctx.run(() =>
      runWithScopedValue('captured', () => {
        v.set('value');
        return [copyContext(), wrap(() => `${getScopedValue()}|${v.get()}`)] as const;
      }),
    );
    expect(snap.run(() => getScopedValue())).toBe('captured');
    expect(snap.get(v)).toBe('value');
    expect(wrapped()).toBe('captured|value');
    expect(getScopedValue()).toBeUndefined();
    // A copy is isolated: its sets do not reach the Context the scope shared.
    snap.run(() => v.set('in the copy'));
    expect(ctx.get(v)).toBe('value');
  });

  it('new Context() and the root have no scoped value', () => {
    expect(new Context().run(() => getScopedValue())).toBeUndefined();
  });
});
