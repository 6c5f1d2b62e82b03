/**
 * Binding an EventEmitter to a Context: every listener added after the binding
 * runs with that Context's variables, whichever Context calls `emit`. The Context
 * is re-entered (see `reenter`): the scoped values of whoever emits, such as the
 * span OpenTelemetry made active there, stay in force. This is what keeps a
 * request's values in `req.on('data')`, `res.on('finish')` and the body parsers
 * and multipart readers built on them, which plain `AsyncLocalStorage.run` loses
 * because an emitter is not an async resource.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { type Context, captureFrame, reenterListener, reenterUnchecked } from './context.js';
import {
  homeMatters,
  inTable,
  type ListenerRunner,
  setTarget,
  type Target,
  targetOf,
} from './emitter-targets.js';
import { describe, InvalidArgTypeError } from './errors.js';
import { PROTOCOL } from './runtime.js';

export type { ListenerRunner } from './emitter-targets.js';

type Listener = (...args: any[]) => unknown;
type AddMethod = (this: EventEmitter, event: string | symbol, listener: Listener) => EventEmitter;

// A binding that has both a Context and runners is one runner that enters the
// Context and calls the runners inside it. It keeps both parts, so that a later
// binding replaces the Context or adds a runner without nesting a stale Context
// inside, and `boundContext` can name the Context.
const kContext = Symbol.for(`@contextvars/core:emitterContext:${PROTOCOL}`);
const kRunner = Symbol.for(`@contextvars/core:emitterRunner:${PROTOCOL}`);

type Composed = ListenerRunner & { [kContext]?: Context; [kRunner]?: ListenerRunner };

/** The Context that `target` runs listeners in, if it is one or has one. */
function contextIn(target: Target | undefined): Context | undefined {
  return typeof target === 'function' ? (target as Composed)[kContext] : (target as Context);
}

/** The runners of `target`, as one, if it has any. */
function runnerIn(target: Target): ListenerRunner | undefined {
  return typeof target === 'function' ? ((target as Composed)[kRunner] ?? target) : undefined;
}

/** The binding that enters `ctx` (if any) and calls `runner` inside it. */
function withRunner(ctx: Context | undefined, runner: ListenerRunner): Target {
  if (ctx === undefined) return runner;
  const composed: Composed = <R>(call: () => R): R => reenterUnchecked(ctx, () => runner(call));
  composed[kContext] = ctx;
  composed[kRunner] = runner;
  return composed;
}

/** Calls `listener` as an emitter would, where `target` says. */
function callListener(
  target: Target,
  listener: Listener,
  thisArg: unknown,
  args: unknown[],
): unknown {
  return typeof target === 'function'
    ? target(() => Reflect.apply(listener, thisArg, args))
    : reenterListener(target, listener, thisArg, args);
}

// Keys shared by every copy of the package with this layout (the protocol number):
// the methods a per-instance patch replaced, and the mark of a prototype that
// carries the patched methods (whose value is that prototype).
const kOriginals = Symbol.for(`@contextvars/core:emitterOriginals:${PROTOCOL}`);
const kShared = Symbol.for(`@contextvars/core:emitterPrototype:${PROTOCOL}`);

type Bindable = EventEmitter & { [kOriginals]?: Originals; [kShared]?: object };

interface Originals {
  on: AddMethod;
  prepend: AddMethod;
  once: AddMethod;
  prependOnce: AddMethod;
}

/**
 * A listener that runs in `target`. Its `listener` property points at the original,
 * which is how Node's own `removeListener`, `off`, `listeners()` and
 * `listenerCount(event, fn)` find it: removal stays exact without a lookup table.
 */
function boundListener(target: Target, listener: Listener): Listener {
  const bound = function (this: unknown, ...args: unknown[]) {
    return callListener(target, listener, this, args);
  } as Listener & { listener: Listener };
  bound.listener = listener;
  return bound;
}

/** A bound listener that removes itself before its first call, as Node's `once` does. */
function onceListener(target: Target, event: string | symbol, listener: Listener): Listener {
  let fired = false;
  const bound = function (this: EventEmitter, ...args: unknown[]) {
    if (fired) return undefined;
    fired = true;
    this.removeListener(event, bound);
    return callListener(target, listener, this, args);
  } as Listener & { listener: Listener };
  bound.listener = listener;
  return bound;
}

/**
 * A stream's data events come from I/O, outside every Context, once per chunk:
 * when one starts being read in its Context, that Context gets a captured frame,
 * the cheaper way back in (see `captured-frame.ts`).
 */
function captureOnRead(target: Target, event: string | symbol): void {
  if (typeof target !== 'function' && (event === 'data' || event === 'readable')) {
    captureFrame(target);
  }
}

/**
 * The five listener-adding methods, routed through `originals(emitter)`. An
 * emitter without a binding gets the original behaviour, untouched. `home`: the
 * shared prototype they are installed on (`undefined` on an instance), by which
 * `targetOf` tells an instance whose prototype was swapped.
 */
function patchedMethods(originals: (emitter: Bindable) => Originals, home: object | undefined) {
  return {
    on(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = targetOf(this, inTable(this, home));
      const { on } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return on.call(this, event, listener);
      captureOnRead(target, event);
      return on.call(this, event, boundListener(target, listener));
    },
    prependListener(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = targetOf(this, inTable(this, home));
      const { prepend } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return prepend.call(this, event, listener);
      captureOnRead(target, event);
      return prepend.call(this, event, boundListener(target, listener));
    },
    once(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = targetOf(this, inTable(this, home));
      const { on, once } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return once.call(this, event, listener);
      captureOnRead(target, event);
      return on.call(this, event, onceListener(target, event, listener));
    },
    prependOnceListener(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = targetOf(this, inTable(this, home));
      const { prepend, prependOnce } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return prependOnce.call(this, event, listener);
      captureOnRead(target, event);
      return prepend.call(this, event, onceListener(target, event, listener));
    },
  };
}

function originalsOf(emitter: EventEmitter): Originals {
  return {
    on: emitter.on,
    prepend: emitter.prependListener,
    once: emitter.once,
    prependOnce: emitter.prependOnceListener,
  };
}

function install(holder: object, methods: ReturnType<typeof patchedMethods>): void {
  for (const [name, fn] of [
    ['on', methods.on],
    ['addListener', methods.on],
    ['prependListener', methods.prependListener],
    ['once', methods.once],
    ['prependOnceListener', methods.prependOnceListener],
  ] as const) {
    Object.defineProperty(holder, name, {
      value: fn,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}

/**
 * The nearest prototype of `emitter` that {@link shareEmitterBinding} prepared, if
 * any: its mark, read as an inline-cached load. Where the binding's place depends on
 * the prototype (`homeMatters`, V8 before 13), the chain is walked instead: there, a
 * read misses every cache on a request that Express gave a prototype of its own (see
 * `emitter-targets.ts`).
 */
function homeOf(emitter: object | null): object | undefined {
  if (emitter === null || typeof emitter !== 'object') return undefined;
  if (!homeMatters) return (emitter as Bindable)[kShared];
  for (
    let proto = Object.getPrototypeOf(emitter);
    proto !== null;
    proto = Object.getPrototypeOf(proto)
  ) {
    if (Object.hasOwn(proto, kShared)) return proto;
  }
  return undefined;
}

// Emitters of one instance each: the originals live on the instance.
const instanceMethods = patchedMethods((emitter) => emitter[kOriginals]!, undefined);

/**
 * Puts the listener-adding methods that {@link bindEmitter} needs on `prototype`
 * once, so that binding one of its instances costs at most one property write
 * instead of reshaping the object, and none for an instance whose prototype a
 * framework has swapped since (Express does, to every request and response) on
 * V8 before 13 (Node 20 and 22), where adding a property to such an object is
 * expensive. For emitters created in great numbers, such as HTTP requests and
 * responses (`@contextvars/http` does it for Node's).
 * Instances that are never bound keep Node's own behaviour. Idempotent, and shared
 * by every copy of this package.
 */
export function shareEmitterBinding(prototype: object): void {
  if (prototype === null || typeof prototype !== 'object') {
    throw new InvalidArgTypeError(
      `shareEmitterBinding() needs a prototype object, received ${describe(prototype)}`,
    );
  }
  if (Object.hasOwn(prototype, kShared)) return;
  Object.defineProperty(prototype, kShared, { value: prototype });
  const originals = originalsOf(prototype as EventEmitter);
  install(
    prototype,
    patchedMethods(() => originals, prototype),
  );
}

/**
 * Makes every listener added to `emitter` from now on run in `ctx` (`on`,
 * `addListener`, `prependListener`, `once`, `prependOnceListener`), re-entering it
 * as `reenter` does: with its variables, and with the scoped values (the active
 * span) of whoever emits. Removal with
 * `off`/`removeListener` by the original function, `removeAllListeners`,
 * `listeners()` and `listenerCount()` keep working as usual. Listeners added before
 * the call are left alone.
 *
 * `ctx` is a Context, or a runner: a function that performs the call however an
 * integration wants (OpenTelemetry's `context.with`, `reenter`). The bindings
 * compose: a listener runs in the Context bound last, and inside it through every
 * runner bound, in the order they were bound. Binding a Context again moves later
 * listeners to it, with the runners still in force.
 *
 * Like OpenTelemetry's `context.bind(ctx, emitter)`; the framework adapters bind
 * each request's `req` and `res` to its Context.
 *
 * @returns `emitter`.
 */
export function bindEmitter<E extends EventEmitter>(emitter: E, ctx: Context | ListenerRunner): E {
  const target = emitter as unknown as Bindable;
  // An instance of a prepared prototype is an emitter: its `on` is not read, a
  // read that misses every cache on an object Express gave a prototype of its own.
  const home = homeOf(target);
  if (
    home === undefined &&
    (target === null || typeof target !== 'object' || typeof target.on !== 'function')
  ) {
    throw new InvalidArgTypeError(
      `bindEmitter() needs an EventEmitter, received ${describe(emitter)}`,
    );
  }
  const binding = ctx as Target;
  const tabled = inTable(target, home);
  const existing = targetOf(target, tabled);
  if (existing === undefined) {
    if (home === undefined && target[kOriginals] === undefined) {
      target[kOriginals] = originalsOf(target);
      install(target, instanceMethods);
    }
    setTarget(target, tabled, binding);
  } else if (typeof binding === 'function') {
    const inner = runnerIn(existing);
    const runner =
      inner === undefined ? binding : <R>(call: () => R): R => inner(() => binding(call));
    setTarget(target, tabled, withRunner(contextIn(existing), runner));
  } else {
    // Runners already there (tracing's bind) stay in force inside the new Context.
    const inner = runnerIn(existing);
    setTarget(target, tabled, inner === undefined ? binding : withRunner(ctx as Context, inner));
  }
  return emitter;
}

/**
 * The Context that {@link bindEmitter} last bound `emitter` to: the one its listeners
 * added from now on run in, whatever runners were bound with it. The framework
 * adapters bind each request's `req` to its Context, so this finds a request's
 * Context from its request object wherever the framework calls back.
 *
 * @param emitter - Any object; bindings made by copies of this package with another
 *   internal layout are not seen.
 * @returns The Context, or `undefined` for an emitter never bound to one (bound to
 *   runners only, or not at all), and for a value that is not an object.
 */
export function boundContext(emitter: object): Context | undefined {
  if (emitter === null || typeof emitter !== 'object') return undefined;
  return contextIn(targetOf(emitter, inTable(emitter, homeOf(emitter))));
}
