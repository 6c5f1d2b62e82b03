/**
 * `Context`: a mapping of context variables to values, and the unit that async
 * continuations share. The current Context is carried by Node's
 * `AsyncLocalStorage`; a Context object is mutable (its `_map` is replaced on
 * every `set`), so every continuation scheduled in it sees later changes, while a
 * `copy()` is an O(1) snapshot of the persistent trie.
 *
 * @module
 */
import { captureCurrentFrame, framesExchange } from './captured-frame.js';
import type { ContextVar } from './context-var.js';
import { currentStore, runWithStore } from './current-store.js';
import { ContextEnteredError, describe, InvalidArgTypeError } from './errors.js';
import { Hamt } from './hamt.js';
import {
  type Binding,
  type Capture,
  type ContextState,
  inspectSymbol,
  leafValue,
  runtime,
  VAR_BRAND,
  type VarState,
} from './runtime.js';

/** The Context that is current now: the innermost `run`, else the root context. */
export function currentContext(): ContextState {
  return currentStore() ?? rootContext;
}

/** The Context whose variables are current (differs from the current one inside a scope). */
export function currentVars(): ContextState {
  return (currentStore() ?? rootContext)._vars;
}

/** @internal Throws unless `value` is a ContextVar of any copy of this package. */
export function assertVar(value: unknown, what: string): asserts value is VarState {
  if (
    value === null ||
    typeof value !== 'object' ||
    (value as { [VAR_BRAND]?: unknown })[VAR_BRAND] !== true
  ) {
    throw new InvalidArgTypeError(`${what} must be a ContextVar, received ${describe(value)}`);
  }
}

/**
 * Calls `fn` with `ctx` current, without the re-entry check of `run`: for `bind`,
 * `wrap` and independent generators, whose callers cannot know which Context is
 * entered when the callback fires.
 *
 * @internal
 */
export function callIn<R>(ctx: ContextState, fn: () => R): R {
  if (currentStore() === ctx) return fn();
  ctx._entered++;
  try {
    return runWithStore(ctx, fn);
  } finally {
    ctx._entered--;
  }
}

/**
 * A mapping of {@link ContextVar}s to their values: Python's `contextvars.Context`.
 *
 * There is always a current Context. `ctx.run(fn)` makes `ctx` current for `fn`
 * and for all async work that `fn` starts. A Context is a read-only map: values
 * change only through `ContextVar#set`, `reset` and `delete` while it is current.
 *
 * Contexts hold their vars weakly: a var that nothing else references is
 * garbage-collected with its values, and disappears from `size` and iteration.
 *
 * @example
 * ```ts
 * const ctx = copyContext();
 * ctx.run(() => userId.set('alice'));
 * ctx.get(userId); // 'alice'; the caller's context is unchanged
 * ```
 */
export class Context implements ReadonlyMap<ContextVar<unknown>, unknown> {
  /** @internal */ _map: Hamt<WeakRef<VarState>>;
  /** @internal */ _ver: number;
  /** @internal */ _entered: number;
  /** @internal */ _vars: ContextState;
  /** @internal */ _scopes: Binding | undefined;
  /** @internal */ _capture: Capture | undefined;

  /** Creates an empty Context (no variable set). */
  constructor() {
    // biome-ignore lint/complexity/noArguments: the signature takes none; reject what Python rejects.
    if (arguments.length > 0) {
      throw new InvalidArgTypeError('Context() takes no arguments; use copyContext() to copy one');
    }
    this._map = Hamt.empty();
    this._ver = 0;
    this._entered = 0;
    this._vars = this;
    this._scopes = undefined;
    this._capture = undefined;
  }

  /**
   * Calls `fn(...args)` with this Context current and returns its result. Changes
   * that `fn` (and async work it starts) makes to context variables stay in this
   * Context; after `fn` returns or throws, the previous Context is current again.
   *
   * @throws {@link ContextEnteredError} if this Context is already entered in the
   *   current synchronous call chain.
   * @throws {@link InvalidArgTypeError} if `fn` is not a function.
   */
  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
    if (typeof fn !== 'function') {
      throw new InvalidArgTypeError(`Context.run() needs a function, received ${describe(fn)}`);
    }
    if (this._entered > 0) {
      throw new ContextEnteredError(
        `cannot enter context: ${String(this)} is already entered in this call chain`,
      );
    }
    this._entered++;
    try {
      return runWithStore(this, fn, ...args);
    } finally {
      this._entered--;
    }
  }

  /** A new Context with the same values; O(1). Later changes to either do not show in the other. */
  copy(): Context {
    return snapshot(this);
  }

  /**
   * A function that always runs `fn` in this Context (with the caller's `this` and
   * arguments). Unlike `run`, calling it while this Context is already current or
   * entered is allowed: it is meant for callbacks whose caller cannot know.
   */
  bind<F extends (...args: never[]) => unknown>(fn: F): F {
    if (typeof fn !== 'function') {
      throw new InvalidArgTypeError(`Context.bind() needs a function, received ${describe(fn)}`);
    }
    const ctx = this;
    return function (this: unknown, ...args: unknown[]) {
      return callIn(ctx, () => Reflect.apply(fn, this, args));
    } as unknown as F;
  }

  /**
   * The value of `v` in this Context; `fallback` (or `undefined`) when it is not
   * set. The var's own default is not consulted, as in Python.
   *
   * @throws {@link InvalidArgTypeError} if `v` is not a ContextVar.
   */
  get<T>(v: ContextVar<T>): T | undefined;
  get<T, D>(v: ContextVar<T>, fallback: D): T | D;
  get(v: ContextVar<unknown>, fallback?: unknown): unknown {
    assertVar(v, 'Context key');
    const leaf = this._vars._map.find(v._hash, v._id);
    return leaf === undefined ? fallback : leafValue(v, leaf);
  }

  /**
   * Whether `v` has a value in this Context (a var set to `undefined` has one).
   *
   * @throws {@link InvalidArgTypeError} if `v` is not a ContextVar.
   */
  has(v: ContextVar<unknown>): boolean {
    assertVar(v, 'Context key');
    return this._vars._map.find(v._hash, v._id) !== undefined;
  }

  /** Number of variables set in this Context (collected vars never count). */
  get size(): number {
    let n = 0;
    for (const leaf of this._vars._map.leaves()) if (leaf.payload.deref() !== undefined) n++;
    return n;
  }

  /** `[var, value]` pairs, as a Map iterates. */
  *entries(): MapIterator<[ContextVar<unknown>, unknown]> {
    for (const leaf of this._vars._map.leaves()) {
      const v = leaf.payload.deref();
      if (v !== undefined) yield [v as unknown as ContextVar<unknown>, leafValue(v, leaf)];
    }
  }

  /** The variables set in this Context. */
  *keys(): MapIterator<ContextVar<unknown>> {
    for (const [v] of this.entries()) yield v;
  }

  /** The values set in this Context. */
  *values(): MapIterator<unknown> {
    for (const [, value] of this.entries()) yield value;
  }

  /** Calls `callback(value, var, this)` for each variable set, as `Map#forEach` does. */
  forEach(
    callback: (
      value: unknown,
      key: ContextVar<unknown>,
      map: ReadonlyMap<ContextVar<unknown>, unknown>,
    ) => void,
    thisArg?: unknown,
  ): void {
    for (const [v, value] of this.entries()) callback.call(thisArg, value, v, this);
  }

  /** Same as {@link Context.entries}. */
  [Symbol.iterator](): MapIterator<[ContextVar<unknown>, unknown]> {
    return this.entries();
  }

  /** `'Context'`, so `Object.prototype.toString` reads `[object Context]`. */
  get [Symbol.toStringTag](): string {
    return 'Context';
  }

  /** `Context(size=N)`. */
  toString(): string {
    return `Context(size=${this.size})`;
  }

  /** @internal */
  [inspectSymbol](): string {
    return `Context { size: ${this.size} }`;
  }
}

function snapshot(source: ContextState): Context {
  const ctx = new Context();
  const vars = source._vars;
  ctx._map = vars._map;
  ctx._ver = vars._ver;
  ctx._scopes = source._scopes;
  return ctx;
}

runtime.root ??= new Context();
// Constant from here on; a module binding is cheaper to read than the shared slot.
const rootContext: ContextState = runtime.root;

/**
 * A new Context holding the current values: Python's `contextvars.copy_context()`.
 * O(1). `copyContext().run(fn)` is how code gets its own isolated scope, like
 * asyncio's `create_task`.
 */
export function copyContext(): Context {
  return snapshot(currentContext());
}

/**
 * Captures {@link copyContext} now and returns a function that runs `fn` in that
 * Context each time it is called: for callbacks handed to queues, pools, emitters
 * and other code that calls back outside the caller's async chain. All calls share
 * the captured Context, so a value one call sets is seen by the next.
 */
export function wrap<F extends (...args: never[]) => unknown>(fn: F): F {
  if (typeof fn !== 'function') {
    throw new InvalidArgTypeError(`wrap() needs a function, received ${describe(fn)}`);
  }
  return copyContext().bind(fn);
}

/**
 * A frame that shares the variables of a Context but carries scoped values of its
 * own (see `ScopedValue`). Only ever the current store, never handed to users:
 * `copyContext()` inside one returns a real Context.
 */
// Variables are read and written through `_vars` only, so a frame carries no map.
export class Frame {
  constructor(
    public _vars: ContextState,
    public _scopes: Binding | undefined,
  ) {}
}

/**
 * Calls `fn` with the variables of `ctx` current while keeping the caller's scoped
 * values (such as the active OpenTelemetry context). This is how a framework
 * adapter re-enters a request's Context from a callback that lost it (an emitter
 * listener, a late lifecycle hook): the request's variables come back, while the
 * span that tracing instrumentation made active around the callback stays active,
 * as it would without the adapter. `ctx.run(fn)` instead restores the scoped values
 * captured with `ctx` too. Never throws `ERR_CONTEXT_ENTERED`.
 *
 * @throws {@link InvalidArgTypeError} if `ctx` is not a Context or `fn` not a function.
 */
export function reenter<R>(ctx: Context, fn: () => R): R {
  if (!(ctx instanceof Context) && !isContextState(ctx)) {
    throw new InvalidArgTypeError(`reenter() needs a Context, received ${describe(ctx)}`);
  }
  if (typeof fn !== 'function') {
    throw new InvalidArgTypeError(`reenter() needs a function, received ${describe(fn)}`);
  }
  return reenterUnchecked(ctx, fn);
}

function isContextState(value: unknown): value is ContextState {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as ContextState)._vars === value &&
    '_map' in (value as object)
  );
}

/**
 * The frame that re-enters `ctx` from `current`: the Context itself, the cheapest,
 * unless `current` has scoped values to keep.
 */
function reentryFrame(ctx: ContextState, current: ContextState): ContextState {
  const scopes = current._scopes;
  return scopes === ctx._scopes ? ctx : (new Frame(ctx, scopes) as unknown as ContextState);
}

/**
 * {@link reenter} without argument checks, for the per-request path. `fn` goes to
 * `run` as it is: no arguments to spread through `Reflect.apply`.
 */
export function reenterUnchecked<R>(ctx: ContextState, fn: () => R): R {
  const current = currentContext();
  if (current._vars === ctx) return fn();
  ctx._entered++;
  try {
    return runWithStore(reentryFrame(ctx, current), fn);
  } finally {
    ctx._entered--;
  }
}

/**
 * `fn.apply(thisArg, args)` re-entering `ctx` (see {@link reenter}); no closure per
 * call, for emitter listeners.
 */
export function reenterApply(
  ctx: ContextState,
  fn: (...args: any[]) => unknown,
  thisArg: unknown,
  args: unknown[],
): unknown {
  const current = currentContext();
  if (current._vars === ctx) return Reflect.apply(fn, thisArg, args);
  ctx._entered++;
  try {
    return runWithStore(reentryFrame(ctx, current), Reflect.apply, fn, thisArg, args);
  } finally {
    ctx._entered--;
  }
}

/**
 * {@link reenterApply} for a bound emitter's listener. Called from outside every
 * Context (I/O: nothing of ours in the frame, so no scoped value to keep), it
 * enters through the frame `ctx` captured (see captured-frame.ts) when it has one.
 * Anywhere else it re-enters with `run`, which keeps the caller's frame, other
 * `AsyncLocalStorage` stores included.
 */
export function reenterListener(
  ctx: ContextState,
  fn: (...args: any[]) => unknown,
  thisArg: unknown,
  args: unknown[],
): unknown {
  const capture = ctx._capture;
  if (
    capture === undefined ||
    currentStore() !== undefined ||
    rootContext._scopes !== ctx._scopes
  ) {
    return reenterApply(ctx, fn, thisArg, args);
  }
  ctx._entered++;
  try {
    return capture.runInAsyncScope(Reflect.apply, undefined, fn, thisArg, args);
  } finally {
    ctx._entered--;
  }
}

/**
 * Captures the current frame into `ctx`, the current Context, so that
 * {@link reenterListener} enters it from I/O without `AsyncLocalStorage.run`
 * (see captured-frame.ts). Does nothing where that would not pay, or once done.
 */
export function captureFrame(ctx: ContextState): void {
  if (framesExchange && ctx._capture === undefined && currentStore() === ctx) {
    ctx._capture = captureCurrentFrame();
  }
}

/**
 * Prepares `ctx`, the current Context, for listeners of emitters bound to it that
 * will be called from I/O, outside every Context: captures the current async
 * context frame, so that they re-enter `ctx` through it instead of with
 * `AsyncLocalStorage.run` (on Node 24 and later about 450 instructions a call
 * against 3,700, for about 600 once). A bound stream does it by itself when it
 * starts being read in its Context; call it where other such listeners are known
 * to come (the Koa adapter does, for each request: Koa finishes the response
 * outside the request's Context, and Node's own `'end'` listener on the request
 * then fires from I/O). What those listeners see of other `AsyncLocalStorage`
 * stores is then what was current here, not where the event was emitted. Does nothing outside
 * `ctx`, where `AsyncLocalStorage` does not keep frames (Node 20 and 22,
 * `--no-async-context-frame`), or once done.
 *
 * @throws {@link InvalidArgTypeError} if `ctx` is not a Context.
 */
export function captureListenerFrame(ctx: Context): void {
  if (!(ctx instanceof Context) && !isContextState(ctx)) {
    throw new InvalidArgTypeError(
      `captureListenerFrame() needs a Context, received ${describe(ctx)}`,
    );
  }
  captureFrame(ctx as unknown as ContextState);
}
