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
import { type Context, callIn } from './context.js';
import { describe, InvalidArgTypeError } from './errors.js';
import type { ContextState } from './runtime.js';

type Listener = (...args: any[]) => unknown;
type AddMethod = (this: EventEmitter, event: string | symbol, listener: Listener) => EventEmitter;

/** Runs a listener call: in a Context, or however an integration wants (OpenTelemetry's `with`). */
export type ListenerRunner = <R>(call: () => R) => R;

interface BindingState {
  target: ContextState | ListenerRunner;
  on: AddMethod;
  prepend: AddMethod;
}

function runIn<R>(target: ContextState | ListenerRunner, call: () => R): R {
  return typeof target === 'function' ? target(call) : callIn(target, call);
}

const kBinding = Symbol.for('@contextvars/core:emitterBinding');

type Bindable = EventEmitter & { [kBinding]?: BindingState };

/**
 * A listener that runs in `ctx`. Its `listener` property points at the original,
 * which is how Node's own `removeListener`, `off`, `listeners()` and
 * `listenerCount(event, fn)` find it: removal stays exact without a lookup table.
 */
function boundListener(target: ContextState | ListenerRunner, listener: Listener): Listener {
  const bound = function (this: unknown, ...args: unknown[]) {
    return runIn(target, () => listener.apply(this, args));
  } as Listener & { listener: Listener };
  bound.listener = listener;
  return bound;
}

/** A bound listener that removes itself before its first call, as Node's `once` does. */
function onceListener(
  target: ContextState | ListenerRunner,
  event: string | symbol,
  listener: Listener,
): Listener {
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

// Shared by every bound emitter, so binding allocates only the state object.
function on(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
  const state = this[kBinding]!;
  if (typeof listener !== 'function') return state.on.call(this, event, listener);
  return state.on.call(this, event, boundListener(state.target, listener));
}

function prependListener(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
  const state = this[kBinding]!;
  if (typeof listener !== 'function') return state.prepend.call(this, event, listener);
  return state.prepend.call(this, event, boundListener(state.target, listener));
}

function once(this: Bindable, event: string | symbol, listener: Listener): EventEmitter {
  const state = this[kBinding]!;
  if (typeof listener !== 'function') return state.on.call(this, event, listener);
  return state.on.call(this, event, onceListener(state.target, event, listener));
}

function prependOnceListener(
  this: Bindable,
  event: string | symbol,
  listener: Listener,
): EventEmitter {
  const state = this[kBinding]!;
  if (typeof listener !== 'function') return state.prepend.call(this, event, listener);
  return state.prepend.call(this, event, onceListener(state.target, event, listener));
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
  const existing = target[kBinding];
  if (existing !== undefined) {
    if (typeof ctx === 'function') {
      // A runner wraps the existing binding: listeners run in the bound Context, then the runner.
      const inner = existing.target;
      existing.target = <R>(call: () => R): R => runIn(inner, () => ctx(call));
    } else {
      existing.target = ctx;
    }
    return emitter;
  }
  target[kBinding] = { target: ctx, on: target.on, prepend: target.prependListener };
  target.on = on;
  target.addListener = on;
  target.prependListener = prependListener;
  target.once = once;
  target.prependOnceListener = prependOnceListener;
  return emitter;
}
