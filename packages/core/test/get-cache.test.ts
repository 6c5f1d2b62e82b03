import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setHashFunctionForTesting } from '../src/context-var.js';
import { Hamt } from '../src/hamt.js';
import { Context, ContextVar, copyContext, type Token } from '../src/index.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('get() fast path', () => {
  it('a repeated read in an unchanged context does not walk the trie', () => {
    const v = new ContextVar<string>('hot');
    const find = vi.spyOn(Hamt.prototype, 'find');
    new Context().run(() => {
      v.set('x');
      find.mockClear();
      for (let i = 0; i < 100; i++) expect(v.get()).toBe('x');
      expect(find).toHaveBeenCalledTimes(0);
      const w = new ContextVar<number>('other');
      expect(w.get(0)).toBe(0); // a miss is cached too
      expect(w.get(0)).toBe(0);
      expect(find).toHaveBeenCalledTimes(1);
    });
  });

  it('stays correct when the context changes between reads (model-based)', () => {
    type Op =
      | { op: 'set'; v: number; c: number; value: number }
      | { op: 'get'; v: number; c: number }
      | { op: 'reset'; c: number }
      | { op: 'delete'; v: number; c: number }
      | { op: 'copy'; from: number; to: number };
    const N_VARS = 3;
    const N_CTX = 3;
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant('set' as const),
        v: fc.nat(N_VARS - 1),
        c: fc.nat(N_CTX - 1),
        value: fc.integer({ min: 0, max: 5 }),
      }),
      fc.record({ op: fc.constant('get' as const), v: fc.nat(N_VARS - 1), c: fc.nat(N_CTX - 1) }),
      fc.record({ op: fc.constant('reset' as const), c: fc.nat(N_CTX - 1) }),
      fc.record({
        op: fc.constant('delete' as const),
        v: fc.nat(N_VARS - 1),
        c: fc.nat(N_CTX - 1),
      }),
      fc.record({
        op: fc.constant('copy' as const),
        from: fc.nat(N_CTX - 1),
        to: fc.nat(N_CTX - 1),
      }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const vars = Array.from({ length: N_VARS }, (_, i) => new ContextVar<number>(`m${i}`));
        const ctxs = Array.from({ length: N_CTX }, () => new Context());
        const models = Array.from({ length: N_CTX }, () => new Map<number, number>());
        const tokens: Array<Array<{ token: Token<number>; v: number; old: number | undefined }>> =
          ctxs.map(() => []);
        for (const o of ops) {
          switch (o.op) {
            case 'set': {
              const old = models[o.c]!.get(o.v);
              const token = ctxs[o.c]!.run(() => vars[o.v]!.set(o.value));
              tokens[o.c]!.push({ token, v: o.v, old });
              models[o.c]!.set(o.v, o.value);
              break;
            }
            case 'get':
              expect(ctxs[o.c]!.run(() => vars[o.v]!.get(-1))).toBe(models[o.c]!.get(o.v) ?? -1);
              break;
            case 'reset': {
              const entry = tokens[o.c]!.pop();
              if (!entry) break;
              ctxs[o.c]!.run(() => vars[entry.v]!.reset(entry.token));
              if (entry.old === undefined) models[o.c]!.delete(entry.v);
              else models[o.c]!.set(entry.v, entry.old);
              break;
            }
            case 'delete':
              if (!models[o.c]!.has(o.v)) break;
              ctxs[o.c]!.run(() => vars[o.v]!.delete());
              models[o.c]!.delete(o.v);
              break;
            case 'copy':
              ctxs[o.to] = ctxs[o.from]!.copy();
              models[o.to] = new Map(models[o.from]!);
              tokens[o.to] = [];
              break;
          }
          // Every var, read from every context, agrees with the model after every step.
          for (let c = 0; c < N_CTX; c++) {
            for (let i = 0; i < N_VARS; i++) {
              expect(ctxs[c]!.run(() => vars[i]!.get(-1))).toBe(models[c]!.get(i) ?? -1);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a cached value is not seen in a snapshot taken before the change', () => {
    const v = new ContextVar<number>('snapcache', { default: 0 });
    new Context().run(() => {
      v.set(1);
      const before = copyContext();
      v.set(2);
      expect(v.get()).toBe(2);
      expect(before.run(() => v.get())).toBe(1);
      expect(v.get()).toBe(2);
    });
  });
});

describe('hash collisions between vars', () => {
  it('vars with equal hashes stay distinct through set, get, reset, delete and iteration', () => {
    const restore = setHashFunctionForTesting(() => 7);
    let vars: ContextVar<number>[];
    try {
      vars = Array.from({ length: 40 }, (_, i) => new ContextVar<number>(`c${i}`));
    } finally {
      restore();
    }
    expect(new Set(vars.map((v) => v._hash))).toEqual(new Set([7]));
    const ctx = new Context();
    ctx.run(() => {
      const tokens = vars.map((v, i) => v.set(i));
      for (const [i, v] of vars.entries()) expect(v.get()).toBe(i);
      const snap = copyContext();
      vars[3]!.reset(tokens[3]!);
      vars[5]!.delete();
      expect(vars[3]!.get(-1)).toBe(-1);
      expect(vars[5]!.get(-1)).toBe(-1);
      expect(vars[4]!.get()).toBe(4);
      expect(snap.get(vars[3]!)).toBe(3);
      expect(snap.size).toBe(40);
    });
    expect(ctx.size).toBe(38);
    expect(new Map(ctx).get(vars[39]!)).toBe(39);
  });
});
