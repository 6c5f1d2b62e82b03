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
import { type Context, captureFrame, reenterApply, reenterListener } from './context.js';
import { describe, InvalidArgTypeError } from './errors.js';
import { type ContextState, PROTOCOL } from './runtime.js';

type Listener = (...args: any[]) => unknown;
type AddMethod = (this: EventEmitter, event: string | symbol, listener: Listener) => EventEmitter;

/** Runs a listener call: in a Context, or however an integration wants (OpenTelemetry's `with`). */
export type ListenerRunner = <R>(call: () => R) => R;

type Target = ContextState | ListenerRunner;

function runIn<R>(target: Target, call: () => R): R {
  return typeof target === 'function'
    ? target(call)
    : (reenterApply(target, call, undefined, []) as R);
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
// the binding of an emitter (where its listeners run), the methods a per-instance
// patch replaced, and the mark of a prototype that carries the patched methods.
const kTarget = Symbol.for(`@contextvars/core:emitterTarget:${PROTOCOL}`);
const kOriginals = Symbol.for(`@contextvars/core:emitterOriginals:${PROTOCOL}`);
const kShared = Symbol.for(`@contextvars/core:emitterPrototype:${PROTOCOL}`);

type Bindable = EventEmitter & { [kTarget]?: Target; [kOriginals]?: Originals };

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
 * emitter without a binding gets the original behaviour, untouched.
 */
function patchedMethods(originals: (emitter: Bindable) => Originals) {
  return {
    on(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = this[kTarget];
      const { on } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return on.call(this, event, listener);
      captureOnRead(target, event);
      return on.call(this, event, boundListener(target, listener));
    },
    prependListener(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = this[kTarget];
      const { prepend } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return prepend.call(this, event, listener);
      captureOnRead(target, event);
      return prepend.call(this, event, boundListener(target, listener));
    },
    once(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = this[kTarget];
      const { on, once } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return once.call(this, event, listener);
      captureOnRead(target, event);
      return on.call(this, event, onceListener(target, event, listener));
    },
    prependOnceListener(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = this[kTarget];
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

// Emitters of one instance each: the originals live on the instance.
const instanceMethods = patchedMethods((emitter) => emitter[kOriginals]!);

/**
 * Puts the listener-adding methods that {@link bindEmitter} needs on `prototype`
 * once, so that binding each of its instances costs one property write instead of
 * reshaping the object. For emitters created in great numbers, such as HTTP
 * requests and responses (`@contextvars/http` does it for Node's): frameworks like
 * Express swap their prototypes, where reshaping each object is expensive.
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
  Object.defineProperty(prototype, kShared, { value: true });
  const originals = originalsOf(prototype as EventEmitter);
  install(
    prototype,
    patchedMethods(() => originals),
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
 * integration wants (OpenTelemetry's `context.with`, `reenter`). Binding a Context
 * again moves later listeners to it; a runner wraps whatever binding the emitter
 * already has, and a Context bound over a runner keeps the runner inside it.
 *
 * Like OpenTelemetry's `context.bind(ctx, emitter)`; the framework adapters bind
 * each request's `req` and `res` to its Context.
 *
 * @returns `emitter`.
 */
export function bindEmitter<E extends EventEmitter>(emitter: E, ctx: Context | ListenerRunner): E {
  const target = emitter as unknown as Bindable;
  if (target === null || typeof target !== 'object' || typeof target.on !== 'function') {
    throw new InvalidArgTypeError(
      `bindEmitter() needs an EventEmitter, received ${describe(emitter)}`,
    );
  }
  const binding = ctx as Target;
  const existing = target[kTarget];
  if (existing === undefined) {
    if ((target as { [kShared]?: true })[kShared] !== true && target[kOriginals] === undefined) {
      target[kOriginals] = originalsOf(target);
      install(target, instanceMethods);
    }
    target[kTarget] = binding;
  } else if (typeof binding === 'function') {
    target[kTarget] = <R>(call: () => R): R => runIn(existing, () => binding(call));
  } else if (typeof existing === 'function') {
    // A runner already there (tracing's bind) stays in force inside the Context.
    target[kTarget] = <R>(call: () => R): R => runIn(binding, () => existing(call));
  } else {
    target[kTarget] = binding;
  }
  return emitter;
}
