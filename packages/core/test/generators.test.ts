import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Context, ContextVar, copyContext, independent } from '../src/index.js';

// PEP 550's motivating example: decimal precision as context state.
const precision = new ContextVar<number>('precision', { default: 28 });
const round = (x: number) => Number(x.toFixed(precision.get()));

function* fractions(p: number): Generator<number, void, unknown> {
  precision.set(p);
  for (let i = 1; ; i++) yield round(1 / (2 * i + 5));
}

function zip<A, B>(a: Iterator<A>, b: Iterator<B>, n: number): Array<[A, B]> {
  const out: Array<[A, B]> = [];
  for (let i = 0; i < n; i++) out.push([a.next().value as A, b.next().value as B]);
  return out;
}

describe('generators', () => {
  it('PEP 550 decimal example goes wrong with dependent generators (Python default)', () => {
    const rows = copyContext().run(() => zip(fractions(2), fractions(5), 3));
    // The second generator's precision leaks into the first after its first step.
    expect(rows).toEqual([
      [0.14, 0.14286],
      [0.11111, 0.11111],
      [0.09091, 0.09091],
    ]);
  });

  it('PEP 550 decimal example is right with independent generators', () => {
    const before = precision.get();
    const rows = zip(independent(fractions(2)), independent(fractions(5)), 3);
    expect(rows).toEqual([
      [0.14, 0.14286],
      [0.11, 0.11111],
      [0.09, 0.09091],
    ]);
    expect(precision.get()).toBe(before); // nothing reached the caller
  });

  it('a plain generator runs in the Context of whoever resumes it', () => {
    const v = new ContextVar<string>('resumer', { default: 'root' });
    function* gen() {
      while (true) yield v.get();
    }
    const g = gen();
    const a = new Context();
    const b = new Context();
    a.run(() => v.set('A'));
    b.run(() => v.set('B'));
    expect(a.run(() => g.next().value)).toBe('A');
    expect(b.run(() => g.next().value)).toBe('B');
  });

  it('an independent generator keeps its changes across resumes and sees none of the caller', () => {
    const v = new ContextVar<number>('indep', { default: 0 });
    function* counter() {
      while (true) {
        v.set(v.get() + 1);
        yield v.get();
      }
    }
    const ctx = new Context();
    ctx.run(() => {
      v.set(100);
      const g = independent(counter());
      expect(g.next().value).toBe(101); // started from a copy of the caller's context
      v.set(500); // the caller's later change does not reach the generator
      expect(g.next().value).toBe(102);
      expect(v.get()).toBe(500);
    });
  });

  it('runs next, throw and return in its context, and is iterable', () => {
    const v = new ContextVar<string>('methods', { default: 'caller' });
    const own = new Context();
    own.run(() => v.set('own'));
    const seen: string[] = [];
    function* gen() {
      try {
        seen.push(`start:${v.get()}`);
        yield 1;
        yield 2;
      } catch (e) {
        seen.push(`caught ${(e as Error).message}:${v.get()}`);
        yield 3;
      } finally {
        seen.push(`finally:${v.get()}`);
      }
    }
    const g = independent(gen(), own);
    expect(g.next().value).toBe(1);
    expect(g.throw(new Error('x')).value).toBe(3);
    expect(g.return(undefined).done).toBe(true);
    expect(seen).toEqual(['start:own', 'caught x:own', 'finally:own']);
    expect([...independent(gen(), own)]).toEqual([1, 2]);
    expect(Object.prototype.toString.call(g)).toBe('[object Generator]');
  });

  it('async generators: every resume and every await inside runs in the generator context', async () => {
    const v = new ContextVar<string>('agen', { default: 'root' });
    async function* gen(tag: string) {
      v.set(tag);
      for (let i = 0; i < 3; i++) {
        await sleep(1);
        yield `${i}:${v.get()}`;
      }
    }
    const caller = new Context();
    const out = await caller.run(async () => {
      v.set('caller');
      const a = independent(gen('A'));
      const b = independent(gen('B'));
      const rows: string[] = [];
      for (let i = 0; i < 3; i++) {
        const [x, y] = await Promise.all([a.next(), b.next()]);
        rows.push(`${x.value}|${y.value}|${v.get()}`);
      }
      const collected: string[] = [];
      for await (const item of independent(gen('C'))) collected.push(item);
      rows.push(collected.join(','));
      return rows;
    });
    expect(out).toEqual(['0:A|0:B|caller', '1:A|1:B|caller', '2:A|2:B|caller', '0:C,1:C,2:C']);
    expect(Object.prototype.toString.call(independent(gen('D')))).toBe('[object AsyncGenerator]');
  });

  it('rejects what is not a generator', () => {
    expect(() => independent([1, 2] as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});
