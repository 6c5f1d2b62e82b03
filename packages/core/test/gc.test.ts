import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  bindEmitter,
  Context,
  ContextVar,
  copyContext,
  shareEmitterBinding,
} from '../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run the tests with --expose-gc (see vitest.config.ts)');

/** Forces GC until `registry` reports every tag or the attempts run out. */
async function collected(tags: Set<string>, attempts = 30): Promise<boolean> {
  for (let i = 0; i < attempts && tags.size > 0; i++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return tags.size === 0;
}

function tracker() {
  const alive = new Set<string>();
  const registry = new FinalizationRegistry<string>((tag) => alive.delete(tag));
  return {
    alive,
    track(obj: object, tag: string) {
      alive.add(tag);
      registry.register(obj, tag);
    },
  };
}

describe('garbage collection (PEP 550 weak keys)', () => {
  it('a dropped ContextVar is collected with its values, in every live Context and snapshot', async () => {
    const { alive, track } = tracker();
    const ctx = new Context();
    let snapshot: Context | undefined;
    (() => {
      const v = new ContextVar<object>('ephemeral');
      const value = { big: new Array(1000).fill(1) };
      track(v, 'var');
      track(value, 'value');
      ctx.run(() => {
        v.set(value);
        expect(v.get()).toBe(value);
        snapshot = copyContext();
      });
      expect(snapshot!.get(v)).toBe(value);
    })();
    expect(await collected(alive)).toBe(true);
    // The contexts stay usable and no longer list the var.
    expect(ctx.size).toBe(0);
    expect([...snapshot!]).toEqual([]);
  });

  it('a dropped Context is collected with its values; the var stays usable', async () => {
    const { alive, track } = tracker();
    const v = new ContextVar<object>('kept');
    (() => {
      const ctx = new Context();
      const value = { payload: 'x'.repeat(100) };
      track(ctx, 'ctx');
      track(value, 'value');
      ctx.run(() => {
        v.set(value);
        expect(v.get()).toBe(value); // a read must not pin the value
        const snap = copyContext();
        expect(snap.get(v)).toBe(value);
      });
    })();
    expect(await collected(alive)).toBe(true);
    expect(v.get('none')).toBe('none');
  });

  it('replaced and reset values are collected while the Context lives on', async () => {
    const { alive, track } = tracker();
    const v = new ContextVar<object>('replaced');
    const ctx = new Context();
    ctx.run(() => {
      (() => {
        const first = { n: 1 };
        track(first, 'first');
        v.set(first);
        const t = v.set({ n: 2 });
        v.reset(t);
        v.delete();
      })();
      v.set({ n: 3 });
    });
    expect(await collected(alive)).toBe(true);
    expect(ctx.get(v)).toEqual({ n: 3 });
  });

  it('size and iteration skip collected vars but keep live ones', async () => {
    const live = new ContextVar<number>('live');
    const ctx = new Context();
    const { alive, track } = tracker();
    ctx.run(() => {
      live.set(1);
      (() => {
        for (let i = 0; i < 10; i++) {
          const v = new ContextVar<number>(`tmp${i}`);
          track(v, `tmp${i}`);
          v.set(i);
        }
      })();
      expect(copyContext().size).toBe(11);
    });
    expect(await collected(alive)).toBe(true);
    expect(ctx.size).toBe(1);
    expect([...ctx.keys()]).toEqual([live]);
  });

  class Shared extends EventEmitter {}
  shareEmitterBinding(Shared.prototype);
  const makers = {
    'an emitter': () => new EventEmitter(),
    // Kept in a table, off the object, on V8 before 13 (see emitter-targets.ts).
    'a shared-prototype instance whose prototype was swapped': () =>
      Object.setPrototypeOf(new Shared(), Object.create(Shared.prototype)) as EventEmitter,
  };
  for (const [name, make] of Object.entries(makers)) {
    it(`${name}, bound: collected while its Context lives on; keeps its Context as long as it lives`, async () => {
      const { alive, track } = tracker();
      const kept = new Context();
      let dropped: EventEmitter | undefined = bindEmitter(make(), kept);
      track(dropped, 'emitter');
      dropped = undefined;
      expect(await collected(alive)).toBe(true);

      const v = new ContextVar<string>('gc-emitter', { default: 'none' });
      let ctx: Context | undefined = new Context();
      ctx.run(() => v.set('bound'));
      let emitter: EventEmitter | undefined = bindEmitter(make(), ctx);
      track(ctx, 'context');
      ctx = undefined;
      // Listeners added later must still find it.
      expect(await collected(alive, 5)).toBe(false);
      let seen = '';
      emitter.on('x', () => {
        seen = v.get();
      });
      emitter.emit('x');
      expect(seen).toBe('bound');
      emitter = undefined;
      expect(await collected(alive)).toBe(true);
    });
  }
});
