import { EventEmitter, once } from 'node:events';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Context, ContextVar, copyContext, wrap } from '../src/index.js';

const v = new ContextVar<string>('async', { default: 'root' });

/** Runs `fn` in a fresh empty Context where `v` is `value`. */
function task<R>(value: string, fn: () => Promise<R>): Promise<R> {
  return copyContext().run(async () => {
    v.set(value);
    return fn();
  });
}

describe('async propagation', () => {
  it('values flow through await, and a set after an await is seen by later continuations', async () => {
    const ctx = new Context();
    await ctx.run(async () => {
      v.set('a');
      await null;
      expect(v.get()).toBe('a');
      await sleep(1);
      v.set('b'); // like a Fastify onRequest hook after an await
      await immediate();
      expect(v.get()).toBe('b');
    });
    expect(ctx.get(v)).toBe('b');
    expect(v.get()).toBe('root');
  });

  it('continuations scheduled earlier see changes made later in the same Context', async () => {
    const ctx = new Context();
    const seen = await ctx.run(() => {
      v.set('first');
      const p = sleep(5).then(() => v.get());
      v.set('second');
      return p;
    });
    expect(seen).toBe('second');
  });

  it('timers, setImmediate, nextTick and queueMicrotask run in the scheduling Context', async () => {
    const results = await task('sched', async () => {
      const got: string[] = [];
      await new Promise<void>((resolve) => {
        let pending = 5;
        const done = (label: string) => {
          got.push(`${label}=${v.get()}`);
          if (--pending === 0) resolve();
        };
        setTimeout(() => done('timeout'), 1);
        setImmediate(() => done('immediate'));
        process.nextTick(() => done('nextTick'));
        queueMicrotask(() => done('microtask'));
        const iv = setInterval(() => {
          clearInterval(iv);
          done('interval');
        }, 1);
      });
      return got.sort();
    });
    expect(results).toEqual([
      'immediate=sched',
      'interval=sched',
      'microtask=sched',
      'nextTick=sched',
      'timeout=sched',
    ]);
    expect(v.get()).toBe('root');
  });

  it('promise chains: then, catch, finally', async () => {
    const out = await task('chain', () =>
      Promise.resolve(1)
        .then(() => v.get())
        .then((x) => {
          expect(x).toBe('chain');
          throw new Error(v.get());
        })
        .catch((e: Error) => `${e.message}:${v.get()}`)
        .finally(() => expect(v.get()).toBe('chain')),
    );
    expect(out).toBe('chain:chain');
  });

  it('thenables: awaited and resolved thenables run in the awaiting Context', async () => {
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: a thenable is what this test is about.
      then(resolve: (x: string) => void) {
        resolve(v.get());
      },
    };
    const [viaAwait, viaResolve] = await task('thenable', async () => [
      await thenable,
      await Promise.resolve(thenable),
    ]);
    expect(viaAwait).toBe('thenable');
    expect(viaResolve).toBe('thenable');
  });

  it('Promise.all, race and allSettled keep each task isolated', async () => {
    const results = await Promise.all(
      ['t1', 't2', 't3', 't4'].map((name, i) =>
        task(name, async () => {
          const before = v.get();
          await sleep(4 - i);
          const [inner] = await Promise.all([Promise.resolve().then(() => v.get())]);
          await Promise.race([sleep(1), sleep(2)]);
          await Promise.allSettled([Promise.reject(new Error('x'))]);
          return [before, inner, v.get()];
        }),
      ),
    );
    expect(results).toEqual([
      ['t1', 't1', 't1'],
      ['t2', 't2', 't2'],
      ['t3', 't3', 't3'],
      ['t4', 't4', 't4'],
    ]);
  });

  it('two concurrent tasks interleaving at every await never see each other', async () => {
    const counter = new ContextVar<number>('counter');
    const log: string[] = [];
    const worker = (name: string) =>
      copyContext().run(async () => {
        counter.set(0);
        for (let i = 0; i < 50; i++) {
          counter.set(counter.get() + 1);
          if (i % 3 === 0) await sleep(0);
          else await null;
        }
        log.push(`${name}:${counter.get()}`);
      });
    await Promise.all([worker('a'), worker('b')]);
    expect(log.sort()).toEqual(['a:50', 'b:50']);
    expect(counter.get(undefined)).toBeUndefined();
  });

  it('EventEmitter listeners run in the Context of the emit, unless bound', async () => {
    const emitter = new EventEmitter();
    const ctxListen = new Context();
    const ctxEmit = new Context();
    ctxListen.run(() => v.set('listener'));
    ctxEmit.run(() => v.set('emitter'));
    const seen: string[] = [];
    ctxListen.run(() => {
      emitter.on('plain', () => seen.push(`plain=${v.get()}`));
      emitter.on(
        'bound',
        wrap(() => seen.push(`bound=${v.get()}`)),
      );
    });
    ctxEmit.run(() => {
      emitter.emit('plain');
      emitter.emit('bound');
    });
    expect(seen).toEqual(['plain=emitter', 'bound=listener']);
    // events.once resolves in the awaiting task's Context.
    const result = await task('awaiter', async () => {
      setTimeout(() => ctxEmit.run(() => emitter.emit('go')), 1);
      await once(emitter, 'go');
      return v.get();
    });
    expect(result).toBe('awaiter');
  });

  it('ctx.run nested inside ctx2.run, across awaits', async () => {
    const outer = new Context();
    const inner = new Context();
    const trace: string[] = [];
    await outer.run(async () => {
      v.set('outer');
      const p = inner.run(async () => {
        v.set('inner');
        await sleep(1);
        trace.push(`inner after await: ${v.get()}`);
      });
      trace.push(`outer after inner.run: ${v.get()}`);
      await p;
      trace.push(`outer after await inner: ${v.get()}`);
    });
    expect(trace).toEqual([
      'outer after inner.run: outer',
      'inner after await: inner',
      'outer after await inner: outer',
    ]);
  });

  it('an async run returns before its continuations: the context can be entered again', async () => {
    const ctx = new Context();
    const p = ctx.run(async () => {
      await sleep(1);
      return v.get();
    });
    ctx.run(() => v.set('later'));
    expect(await p).toBe('later');
  });

  it('async iteration and for-await keep the Context', async () => {
    async function* source() {
      for (let i = 0; i < 3; i++) {
        await sleep(0);
        yield `${i}:${v.get()}`;
      }
    }
    const got = await task('iter', async () => {
      const out: string[] = [];
      for await (const item of source()) out.push(item);
      return out;
    });
    expect(got).toEqual(['0:iter', '1:iter', '2:iter']);
  });

  it('a callback API (pool-like) loses nothing when its callback is wrapped', async () => {
    // A pool that runs queued callbacks from its own timer, outside the caller's chain.
    const queue: Array<() => void> = [];
    const pool = new Context();
    pool.run(() => {
      v.set('pool');
      setInterval(function drain(this: NodeJS.Timeout) {
        const job = queue.shift();
        if (job) job();
      }, 1).unref();
    });
    const acquire = (cb: (value: string) => void) => queue.push(() => cb(v.get()));
    const [plain, wrapped] = await task('caller', async () => {
      const a = await new Promise<string>((resolve) => acquire(() => resolve(v.get())));
      const b = await new Promise<string>((resolve) => acquire(wrap(() => resolve(v.get()))));
      return [a, b];
    });
    expect(plain).toBe('pool');
    expect(wrapped).toBe('caller');
  });
});
