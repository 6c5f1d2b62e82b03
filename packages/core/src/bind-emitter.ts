/**
 * Binding an EventEmitter to a Context: every listener added after the binding
 * runs in that Context, whichever Context calls `emit`. This is what keeps a
 * request's values in `req.on('data')`, `res.on('finish')` and the body parsers
 * and multipart readers built on them, which plain `AsyncLocalStorage.run` loses
 * because an emitter is not an async resource.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { IncomingMessage, ServerResponse } from 'node:http';
import { type Context, callIn, reenterUnchecked } from './context.js';
import { describe, InvalidArgTypeError } from './errors.js';
import type { ContextState } from './runtime.js';

type Listener = (...args: any[]) => unknown;
type AddMethod = (this: EventEmitter, event: string | symbol, listener: Listener) => EventEmitter;

/** Runs a listener call: in a Context, or however an integration wants (OpenTelemetry's `with`). */
export type ListenerRunner = <R>(call: () => R) => R;

/** A binding that re-enters a Context keeping the caller's scoped values (see `reenter`). */
interface Reentry {
  readonly _reenter: ContextState;
}

type Target = ContextState | ListenerRunner | Reentry;

function runIn<R>(target: Target, call: () => R): R {
  if (typeof target === 'function') return target(call);
  const reentered = (target as Partial<Reentry>)._reenter;
  return reentered === undefined
    ? callIn(target as ContextState, call)
    : reenterUnchecked(reentered, call);
}

// The binding of an emitter: where its listeners run.
const kTarget = Symbol.for('@contextvars/core:emitterTarget');
// For emitters patched one by one: the methods the patch replaced.
const kOriginals = Symbol.for('@contextvars/core:emitterOriginals');

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
    return runIn(target, () => listener.apply(this, args));
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
    return runIn(target, () => listener.apply(this, args));
  } as Listener & { listener: Listener };
  bound.listener = listener;
  return bound;
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
      return on.call(this, event, boundListener(target, listener));
    },
    prependListener(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = this[kTarget];
      const { prepend } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return prepend.call(this, event, listener);
      return prepend.call(this, event, boundListener(target, listener));
    },
    once(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = this[kTarget];
      const { on, once } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return once.call(this, event, listener);
      return on.call(this, event, onceListener(target, event, listener));
    },
    prependOnceListener(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
      const target = this[kTarget];
      const { prepend, prependOnce } = originals(this);
      if (target === undefined || typeof listener !== 'function')
        return prependOnce.call(this, event, listener);
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

// HTTP requests and responses are bound on every request of every server: their
// prototypes get the patched methods once, so that binding one costs a single
// property write instead of reshaping each object (frameworks like Express swap
// their prototypes, where reshaping is expensive).
// Shared by every copy of the package, so that two copies never patch twice.
const kPatched = Symbol.for('@contextvars/core:patchedPrototype');
function patchPrototype(proto: object): void {
  if (Object.hasOwn(proto, kPatched)) return;
  Object.defineProperty(proto, kPatched, { value: true });
  const originals = originalsOf(proto as EventEmitter);
  install(
    proto,
    patchedMethods(() => originals),
  );
}

function httpPrototypeOf(emitter: object): object | undefined {
  if (emitter instanceof IncomingMessage) return IncomingMessage.prototype;
  if (emitter instanceof ServerResponse) return ServerResponse.prototype;
  return undefined;
}

/**
 * Makes every listener added to `emitter` from now on run in `ctx` (`on`,
 * `addListener`, `prependListener`, `once`, `prependOnceListener`). Removal with
 * `off`/`removeListener` by the original function, `removeAllListeners`,
 * `listeners()` and `listenerCount()` keep working as usual. Listeners added before
 * the call are left alone. Binding again to a Context moves later listeners to it;
 * binding to a runner (a function that performs the call, like OpenTelemetry's
 * `context.with`) wraps it around whatever binding the emitter already has.
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
  bindTarget(target, ctx as Target);
  return emitter;
}

/**
 * Binds a request's `req` and `res` so that their listeners re-enter `ctx` (see
 * `reenter`): the request's variables, with the scoped values of whoever emits.
 * A binding that tracing made before (OpenTelemetry's `context.bind(serverCtx, req)`
 * by HTTP instrumentation) stays in force inside it, so a `'finish'` listener sees
 * the request's variables and the span the instrumentation gave it.
 */
export function bindRequestEmitters(req: EventEmitter, res: EventEmitter, ctx: ContextState): void {
  const target: Reentry = { _reenter: ctx };
  bindTarget(req as Bindable, target);
  bindTarget(res as Bindable, target);
}

function bindTarget(emitter: Bindable, target: Target): void {
  const existing = emitter[kTarget];
  if (existing === undefined) {
    const proto = httpPrototypeOf(emitter);
    if (proto !== undefined) {
      patchPrototype(proto);
    } else if (emitter[kOriginals] === undefined) {
      emitter[kOriginals] = originalsOf(emitter);
      install(emitter, instanceMethods);
    }
    emitter[kTarget] = target;
  } else if (typeof target === 'function') {
    // A runner wraps the existing binding: listeners run in the bound Context, then the runner.
    emitter[kTarget] = <R>(call: () => R): R => runIn(existing, () => target(call));
  } else if (typeof existing === 'function') {
    // A Context binding keeps a runner already there (tracing's bind) inside it.
    emitter[kTarget] = <R>(call: () => R): R => runIn(target, () => existing(call));
  } else {
    // Binding again to a Context moves later listeners to it.
    emitter[kTarget] = target;
  }
}
