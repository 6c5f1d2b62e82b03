import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { asyncContextFrames as frames, newShapeAfterSwap } from '../../../test/support/runtime.js';
import {
  bindEmitter,
  boundContext,
  Context,
  ContextVar,
  captureListenerFrame,
  InvalidArgTypeError,
  reenter,
  ScopedValue,
  shareEmitterBinding,
} from '../src/index.js';

const v = new ContextVar<string>('emitter', { default: 'root' });

function contexts() {
  const bound = new Context();
  const other = new Context();
  bound.run(() => v.set('bound'));
  other.run(() => v.set('other'));
  return { bound, other };
}

type Script = (e: EventEmitter, log: string[]) => void;

/** Runs the same script on a plain emitter and a bound one: the call logs must match. */
function sameAsPlain(script: Script) {
  const plainLog: string[] = [];
  const boundLog: string[] = [];
  script(new EventEmitter(), plainLog);
  const { bound } = contexts();
  script(bindEmitter(new EventEmitter(), bound), boundLog);
  expect(boundLog).toEqual(plainLog);
  return boundLog;
}

describe('bindEmitter', () => {
  it('listeners added after binding run in the bound Context, whoever emits', () => {
    const { bound, other } = contexts();
    const e = new EventEmitter();
    const seen: string[] = [];
    e.on('x', () => seen.push(`before:${v.get()}`));
    bindEmitter(e, bound);
    e.on('x', () => seen.push(`on:${v.get()}`));
    e.addListener('x', () => seen.push(`addListener:${v.get()}`));
    e.prependListener('x', () => seen.push(`prepend:${v.get()}`));
    e.once('x', () => seen.push(`once:${v.get()}`));
    e.prependOnceListener('x', () => seen.push(`prependOnce:${v.get()}`));
    other.run(() => e.emit('x'));
    expect(seen).toEqual([
      'prependOnce:bound',
      'prepend:bound',
      'before:other',
      'on:bound',
      'addListener:bound',
      'once:bound',
    ]);
    seen.length = 0;
    other.run(() => e.emit('x'));
    expect(seen).toEqual(['prepend:bound', 'before:other', 'on:bound', 'addListener:bound']);
  });

  it('passes this and arguments, and returns the emitter for chaining', () => {
    const { bound } = contexts();
    const e = bindEmitter(new EventEmitter(), bound);
    let self: unknown;
    let args: unknown[] = [];
    expect(
      e.on('x', function (this: unknown, ...a: unknown[]) {
        self = this;
        args = a;
      }),
    ).toBe(e);
    e.emit('x', 1, 'two');
    expect(self).toBe(e);
    expect(args).toEqual([1, 'two']);
  });

  it('two listeners on one event: removing one by its original keeps the other', () => {
    const log = sameAsPlain((e, out) => {
      const a = () => out.push('a');
      const b = () => out.push('b');
      e.on('x', a);
      e.on('x', b);
      e.on('x', a);
      e.emit('x');
      e.removeListener('x', a); // removes the most recent a
      e.emit('x');
      e.off('x', a);
      e.emit('x');
      out.push(`count=${e.listenerCount('x')}`);
    });
    expect(log).toEqual(['a', 'b', 'a', 'a', 'b', 'b', 'count=1']);
  });

  it('once: fires once, and can be removed by its original before it fires', () => {
    sameAsPlain((e, out) => {
      const a = () => out.push('a');
      const b = () => out.push('b');
      e.once('x', a);
      e.once('x', b);
      e.removeListener('x', b);
      e.emit('x');
      e.emit('x');
      out.push(`count=${e.listenerCount('x')}`);
    });
  });

  it('a listener removed while emitting, and one added while emitting', () => {
    sameAsPlain((e, out) => {
      const b = () => out.push('b');
      const c = () => out.push('c');
      e.on('x', () => {
        out.push('a');
        e.removeListener('x', b);
        e.on('x', c);
      });
      e.on('x', b);
      e.emit('x');
      e.emit('x');
    });
  });

  it('removeAllListeners, listeners() and rawListeners() stay consistent', () => {
    const { bound } = contexts();
    const e = bindEmitter(new EventEmitter(), bound);
    const a = () => {};
    const b = () => {};
    e.on('x', a);
    e.once('x', b);
    e.on('y', a);
    expect(e.listeners('x')).toEqual([a, b]);
    expect(e.listenerCount('x', a)).toBe(1);
    e.removeAllListeners('x');
    expect(e.listenerCount('x')).toBe(0);
    expect(e.listenerCount('y')).toBe(1);
    e.removeAllListeners();
    expect(e.eventNames()).toEqual([]);
  });

  it("'removeListener' events report the original listener", () => {
    const { bound } = contexts();
    const e = bindEmitter(new EventEmitter(), bound);
    const removed: unknown[] = [];
    const a = () => {};
    e.on('removeListener', (_name, fn) => removed.push(fn));
    e.on('x', a);
    e.off('x', a);
    expect(removed).toEqual([a]);
  });

  it('rejects listeners that are not functions as Node does', () => {
    const { bound } = contexts();
    const e = bindEmitter(new EventEmitter(), bound);
    expect(() => e.on('x', 5 as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => e.once('x', null as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => bindEmitter({} as never, bound)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('binding again moves later listeners to the new Context', () => {
    const { bound, other } = contexts();
    const e = bindEmitter(new EventEmitter(), bound);
    const seen: string[] = [];
    e.on('x', () => seen.push(v.get()));
    bindEmitter(e, other);
    e.on('x', () => seen.push(v.get()));
    e.emit('x');
    expect(seen).toEqual(['bound', 'other']);
  });

  it('a bound Readable still flows and its data/end listeners run in the Context', async () => {
    const { bound, other } = contexts();
    const stream = bindEmitter(new Readable({ read() {} }), bound);
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      stream.on('data', (chunk) => seen.push(`${chunk}:${v.get()}`));
      stream.on('end', () => {
        seen.push(`end:${v.get()}`);
        resolve();
      });
    });
    other.run(() => {
      stream.push('a');
      stream.push('b');
      stream.push(null);
    });
    await done;
    expect(seen).toEqual(['a:bound', 'b:bound', 'end:bound']);
  });
});

type Captured = { _capture?: unknown };

describe('bindEmitter: a Context whose stream is read is re-entered through a captured frame', () => {
  it('a data or readable listener added in the Context captures its frame, where frames exist', () => {
    for (const method of [
      'on',
      'addListener',
      'prependListener',
      'once',
      'prependOnceListener',
    ] as const) {
      for (const event of ['data', 'readable']) {
        const ctx = new Context();
        const stream = bindEmitter(new Readable({ read() {} }), ctx);
        ctx.run(() => stream[method]('end', () => {}));
        expect((ctx as unknown as Captured)._capture).toBeUndefined();
        // Added outside the Context: nothing to capture there.
        stream[method](event, () => {});
        expect((ctx as unknown as Captured)._capture).toBeUndefined();
        ctx.run(() => stream[method](event, () => {}));
        expect((ctx as unknown as Captured)._capture !== undefined).toBe(frames);
        // A copy is another Context: it starts without one.
        expect((ctx.copy() as unknown as Captured)._capture).toBeUndefined();
      }
    }
  });

  it('captureListenerFrame: captures inside its Context only, once; listeners added outside then enter through it', () => {
    const { bound, other } = contexts();
    const e = bindEmitter(new EventEmitter(), bound);
    captureListenerFrame(bound);
    other.run(() => captureListenerFrame(bound));
    expect((bound as unknown as Captured)._capture).toBeUndefined();
    bound.run(() => captureListenerFrame(bound));
    const first = (bound as unknown as Captured)._capture;
    expect(first !== undefined).toBe(frames);
    bound.run(() => captureListenerFrame(bound));
    expect((bound as unknown as Captured)._capture).toBe(first);
    // As Node adds its own listeners to a request once the response has finished.
    const seen: string[] = [];
    e.on('end', () => seen.push(v.get()));
    const run = vi.spyOn(AsyncLocalStorage.prototype, 'run');
    try {
      e.emit('end');
      expect(run.mock.calls.length).toBe(frames ? 0 : 1);
    } finally {
      run.mockRestore();
    }
    expect(seen).toEqual(['bound']);
  });

  it('captureListenerFrame: anything but a Context is a typed error', () => {
    for (const bad of [undefined, null, {}, 'ctx', () => {}]) {
      expect(() => captureListenerFrame(bad as unknown as Context)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
      );
    }
  });

  it('nothing is captured inside a scoped value, whose frame is not the Context itself', () => {
    const ctx = new Context();
    const span = new ScopedValue<string>('span');
    const stream = bindEmitter(new Readable({ read() {} }), ctx);
    ctx.run(() => span.run('s', () => stream.on('data', () => {})));
    expect((ctx as unknown as Captured)._capture).toBeUndefined();
  });

  it('listeners fired outside run in the Context, entered, without AsyncLocalStorage.run where frames exist', () => {
    const { bound, other } = contexts();
    const e = bindEmitter(new EventEmitter(), bound);
    const seen: string[] = [];
    bound.run(() =>
      e.on('data', (chunk: string) => {
        seen.push(`${chunk}:${v.get()}`);
        try {
          bound.run(() => {});
        } catch (err) {
          seen.push((err as { code: string }).code);
        }
        v.set(`set-by-${chunk}`);
      }),
    );
    const run = vi.spyOn(AsyncLocalStorage.prototype, 'run');
    try {
      e.emit('data', 'a');
      other.run(() => e.emit('data', 'b'));
      // Emitted inside another Context, the listener is entered with run (keeping that
      // caller's frame); other.run itself is one call.
      expect(run.mock.calls.length).toBe(frames ? 2 : 3);
    } finally {
      run.mockRestore();
    }
    expect(seen).toEqual(['a:bound', 'ERR_CONTEXT_ENTERED', 'b:set-by-a', 'ERR_CONTEXT_ENTERED']);
    expect(v.get()).toBe('root');
    expect(bound.get(v)).toBe('set-by-b');
    expect(other.get(v)).toBe('other');
  });

  it("the emitter's scoped values stay in force (the listener is then entered with run)", () => {
    const { bound } = contexts();
    const span = new ScopedValue<string>('span');
    const e = bindEmitter(new EventEmitter(), bound);
    const seen: string[] = [];
    bound.run(() => e.on('data', () => seen.push(`${v.get()}:${span.get()}`)));
    span.run('emitter-span', () => e.emit('data'));
    e.emit('data');
    expect(seen).toEqual(['bound:emitter-span', 'bound:undefined']);
  });

  it('other AsyncLocalStorage stores: as where the frame was captured, or as at the emit without frames', () => {
    const { bound } = contexts();
    const als = new AsyncLocalStorage<string>();
    const e = bindEmitter(new EventEmitter(), bound);
    const seen: (string | undefined)[] = [];
    als.run('where-added', () => bound.run(() => e.on('data', () => seen.push(als.getStore()))));
    als.run('where-emitted', () => e.emit('data'));
    e.emit('data');
    expect(seen).toEqual(frames ? ['where-added', 'where-added'] : ['where-emitted', undefined]);
    als.disable();
  });

  it('reenter and listeners emitted inside a Context keep the caller’s other stores', () => {
    const { bound, other } = contexts();
    const als = new AsyncLocalStorage<string>();
    const e = bindEmitter(new EventEmitter(), bound);
    const seen: (string | undefined)[] = [];
    als.run('where-added', () => bound.run(() => e.on('data', () => seen.push(als.getStore()))));
    als.run('caller', () => {
      seen.push(reenter(bound, () => als.getStore()));
      other.run(() => e.emit('data'));
    });
    expect(seen).toEqual(['caller', 'caller']);
    als.disable();
  });

  it('a listener that throws leaves the emitter’s Context current and the bound one no longer entered', () => {
    const { bound } = contexts();
    const e = bindEmitter(new EventEmitter(), bound);
    bound.run(() =>
      e.on('data', () => {
        throw new Error('boom');
      }),
    );
    expect(() => e.emit('data')).toThrow('boom');
    expect(v.get()).toBe('root');
    expect(bound.run(() => v.get())).toBe('bound');
  });
});

describe('bindEmitter on HTTP requests and responses', () => {
  it('binds one request without changing unbound ones', async () => {
    const { createServer, request } = await import('node:http');
    const { bound, other } = contexts();
    const seen: string[] = [];
    const server = createServer((req, res) => {
      if (req.url === '/bound') {
        bindEmitter(req, bound);
        bindEmitter(res, bound);
      }
      const once = () => seen.push(`${req.url} once:${v.get()}`);
      req.once('custom', once);
      req.removeListener('custom', once); // exact removal, bound or not
      res.on('finish', () => seen.push(`${req.url} finish:${v.get()}`));
      other.run(() => req.emit('custom'));
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    for (const path of ['/bound', '/plain']) {
      await new Promise<void>((resolve) => {
        request({ port, host: '127.0.0.1', path }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).end();
      });
    }
    await new Promise<void>((r) => server.close(() => r()));
    expect(seen.sort()).toEqual(['/bound finish:bound', '/plain finish:root']);
  });
});

describe('shareEmitterBinding', () => {
  class Shared extends EventEmitter {}
  shareEmitterBinding(Shared.prototype);

  it('binding an instance adds one property to it, none to a swapped one on V8 before 13', () => {
    const { bound, other } = contexts();
    const plain = new Shared();
    // What Express does to every request and response.
    const swapped = Object.setPrototypeOf(new Shared(), Object.create(Shared.prototype)) as Shared;
    // A subclass's instances keep stable shapes: a property stays the cheap way.
    const sub = new (class extends Shared {})();
    const seen: string[] = [];
    for (const e of [plain, swapped, sub]) {
      const before = Reflect.ownKeys(e).length;
      bindEmitter(e, bound);
      const added = Reflect.ownKeys(e).length - before;
      e.on('x', () => seen.push(v.get()));
      other.run(() => e.emit('x'));
      seen.push(`+${added}`);
    }
    expect(seen).toEqual(['bound', '+1', 'bound', newShapeAfterSwap ? '+0' : '+1', 'bound', '+1']);
  });

  it('a runner and a Context bound one over the other on a swapped instance both stay in force', () => {
    const { bound, other } = contexts();
    const span = new ScopedValue<string>('span');
    const seen: string[] = [];
    for (const runnerFirst of [true, false]) {
      const e = Object.setPrototypeOf(new Shared(), Object.create(Shared.prototype)) as Shared;
      const runner = <R>(call: () => R): R => span.run('server span', call);
      bindEmitter(e, runnerFirst ? runner : bound);
      bindEmitter(e, runnerFirst ? bound : runner);
      e.on('x', () => seen.push(`${v.get()}/${span.get()}`));
      other.run(() => e.emit('x'));
    }
    expect(seen).toEqual(['bound/server span', 'bound/server span']);
  });

  it('an emitter bound before its prototype is swapped keeps that binding inside a later one', () => {
    const { bound, other } = contexts();
    const span = new ScopedValue<string>('span');
    const e = new Shared();
    // OpenTelemetry's HTTP instrumentation binds the request with a runner; then
    // Express swaps its prototype; then the adapter binds it to the request's Context.
    bindEmitter(e, (call) => span.run('server span', call));
    Object.setPrototypeOf(e, Object.create(Shared.prototype));
    bindEmitter(e, bound);
    const seen: string[] = [];
    e.on('x', () => seen.push(`${v.get()}/${span.get()}`));
    other.run(() => e.emit('x'));
    expect(seen).toEqual(['bound/server span']);
  });

  it('instances never bound, and a second call, keep the behaviour as it was', () => {
    const { other } = contexts();
    shareEmitterBinding(Shared.prototype);
    const e = new Shared();
    const seen: string[] = [];
    const listener = () => seen.push(v.get());
    e.on('x', listener);
    other.run(() => e.emit('x'));
    expect(seen).toEqual(['other']);
    expect(e.listeners('x')).toEqual([listener]);
  });

  it('anything but an object is a typed error', () => {
    for (const bad of [null, undefined, 1, 'proto'])
      expect(() => shareEmitterBinding(bad as never)).toThrow(InvalidArgTypeError);
  });
});

describe('boundContext', () => {
  class Shared extends EventEmitter {}
  shareEmitterBinding(Shared.prototype);
  const runner = <R>(call: () => R): R => call();
  const swapped = () =>
    Object.setPrototypeOf(new Shared(), Object.create(Shared.prototype)) as Shared;
  const kinds: [string, () => EventEmitter][] = [
    ['a plain emitter', () => new EventEmitter()],
    ['an instance of a shared prototype', () => new Shared()],
    ['one whose prototype was swapped', swapped],
  ];

  for (const [kind, make] of kinds) {
    it(`finds the Context ${kind} was last bound to, through runners bound with it`, () => {
      const { bound, other } = contexts();
      const never = make();
      const runnerOnly = bindEmitter(make(), runner);
      const plain = bindEmitter(make(), bound);
      const rebound = bindEmitter(bindEmitter(make(), bound), other);
      const runnerFirst = bindEmitter(bindEmitter(make(), runner), bound);
      const runnerAfter = bindEmitter(bindEmitter(bindEmitter(make(), bound), runner), runner);
      expect(
        [never, runnerOnly, plain, rebound, runnerFirst, runnerAfter].map(boundContext),
      ).toEqual([undefined, undefined, bound, other, bound, bound]);
    });
  }

  for (const [kind, make] of kinds) {
    it(`${kind}: listeners run in the Context it names, through every runner bound, in order`, () => {
      const { bound, other } = contexts();
      const span = new ScopedValue<string>('span');
      const tag =
        (name: string) =>
        <R>(call: () => R): R =>
          span.run(`${span.get() ?? ''}${name}`, call);
      const sequences: [string, (Context | ((call: () => unknown) => unknown))[]][] = [
        ['A B', [bound, other]],
        ['R A B', [tag('R'), bound, other]],
        ['A R B', [bound, tag('R'), other]],
        ['A R S', [bound, tag('R'), tag('S')]],
        ['R A S B', [tag('R'), bound, tag('S'), other]],
      ];
      const seen: string[] = [];
      for (const [name, bindings] of sequences) {
        const e = make();
        for (const binding of bindings) bindEmitter(e, binding as Context);
        e.on('x', () => seen.push(`${name}: ${v.get()}/${span.get() ?? '-'}`));
        new Context().run(() => e.emit('x'));
        seen.push(
          `${name}: named ${boundContext(e) === bound ? 'bound' : boundContext(e) === other ? 'other' : '?'}`,
        );
      }
      expect(seen).toEqual([
        'A B: other/-',
        'A B: named other',
        'R A B: other/R',
        'R A B: named other',
        'A R B: other/R',
        'A R B: named other',
        'A R S: bound/RS',
        'A R S: named bound',
        'R A S B: other/RS',
        'R A S B: named other',
      ]);
    });
  }

  it('a binding made before the prototype was swapped is still found', () => {
    const { bound } = contexts();
    const e = bindEmitter(new Shared(), runner);
    Object.setPrototypeOf(e, Object.create(Shared.prototype));
    bindEmitter(e, bound);
    expect(boundContext(e)).toBe(bound);
  });

  it('anything that is not a bound object gives undefined, never an error', () => {
    for (const value of [null, undefined, 1, 'emitter', {}, () => {}])
      expect(boundContext(value as never)).toBeUndefined();
  });
});
