/**
 * The process-wide state that every copy of this package must share: the
 * `AsyncLocalStorage` that carries the current Context, the root Context, the
 * counters behind var ids and context versions, and the emitter bindings kept off
 * their emitters.
 *
 * It lives on `globalThis` under a `Symbol.for` key, so the ESM and CommonJS
 * builds loaded side by side, or a library's nested copy of the package, agree on
 * which Context is current. The key carries the protocol number: copies whose
 * internal layout differs never share a slot (they could not read each other's
 * Contexts), and keep working, each on its own.
 *
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Hamt, Leaf } from './hamt.js';

/**
 * Bump when the fields below, those of Context/ContextVar read across copies, or
 * the emitter binding's keys change. A new optional field that every copy may
 * find absent (as `_capture`) keeps the number.
 */
export const PROTOCOL = 7;

/**
 * `Leaf#value` of a leaf whose value is an object or function: the value itself is
 * in the var's `_values` WeakMap, keyed by the leaf.
 */
export const BOXED = Symbol.for('@contextvars/core:boxed');

/** The value that `leaf`, a leaf of var `v`, stands for. */
export function leafValue(v: VarState, leaf: Leaf<unknown>): unknown {
  const value = leaf.value;
  return value === BOXED ? v._values.get(leaf) : value;
}

/** What one package copy reads of a ContextVar created by another copy. */
export interface VarState {
  readonly _id: number;
  readonly _hash: number;
  readonly _values: WeakMap<object, unknown>;
}

/** What one package copy reads and writes of a Context created by another copy. */
export interface ContextState {
  /** The current mapping: var id → leaf whose payload weakly references the var. */
  _map: Hamt<WeakRef<VarState>>;
  /** Identifies `_map`: equal versions mean the same mapping. */
  _ver: number;
  /** How many times this Context is entered in the current synchronous call chain. */
  _entered: number;
  /**
   * Where the variables live: the Context itself, or, for a frame made by
   * `ScopedValue#run` or `reenter`, the Context whose variables it shares.
   */
  _vars: ContextState;
  /** The scoped values in force (see `ScopedValue`); captured by snapshots. */
  _scopes: Binding | undefined;
  /**
   * The async context frame captured while this Context was current, to re-enter
   * it from outside without `AsyncLocalStorage.run` (see `captured-frame.ts`);
   * `undefined` until something asks for one. Absent on Contexts of older copies.
   */
  _capture?: Capture | undefined;
}

/** What a captured frame offers: `AsyncResource#runInAsyncScope`. */
export interface Capture {
  runInAsyncScope<A extends unknown[], R>(fn: (...args: A) => R, thisArg?: unknown, ...args: A): R;
}

/**
 * One scoped value in force: an immutable list, at most one entry per key, so
 * that a lookup walks as many entries as there are owners (one per OpenTelemetry
 * context manager, in practice), whatever the nesting depth.
 */
export interface Binding {
  readonly key: object;
  readonly value: unknown;
  readonly next: Binding | undefined;
}

interface Runtime {
  readonly protocol: number;
  readonly storage: AsyncLocalStorage<ContextState>;
  /** The Context current outside any `run` (Python's main-thread context). */
  root: ContextState | undefined;
  /** Last var id handed out. Ids are never reused, so identity checks need no var reference. */
  lastId: number;
  /** Last context version handed out; 0 is the empty mapping. */
  lastVersion: number;
  /** Shared singletons (e.g. the `requestId` var), by name. */
  readonly shared: Map<string, unknown>;
  /** The bindings of emitters that are not to get a property (see `emitter-targets.ts`). */
  readonly emitterTargets: WeakMap<object, unknown>;
  /** The async id of the innermost `run` whose store is {@link Runtime.remembered}, or NaN (see `current-store.ts`). */
  rememberedId: number;
  /** The current store while the async id is {@link Runtime.rememberedId}. */
  remembered: ContextState | undefined;
}

const KEY = Symbol.for(`@contextvars/core:runtime:${PROTOCOL}`);

function createRuntime(): Runtime {
  return {
    protocol: PROTOCOL,
    storage: new AsyncLocalStorage<ContextState>(),
    root: undefined,
    lastId: 0,
    lastVersion: 0,
    shared: new Map(),
    emitterTargets: new WeakMap(),
    rememberedId: Number.NaN,
    remembered: undefined,
  };
}

const holder = globalThis as { [KEY]?: Runtime };

holder[KEY] ??= createRuntime();

/** The shared runtime of this process. */
export const runtime: Runtime = holder[KEY];

/** Brand that marks ContextVar instances of every package copy. */
export const VAR_BRAND = Symbol.for('@contextvars/core:ContextVar');

/** Brand that marks Token instances of every package copy. */
export const TOKEN_BRAND = Symbol.for('@contextvars/core:Token');

/** `Symbol.dispose`, which Node 20 may lack at the language level. */
export const disposeSymbol: typeof Symbol.dispose =
  (Symbol as { dispose?: typeof Symbol.dispose }).dispose ??
  (Symbol.for('nodejs.dispose') as typeof Symbol.dispose);

/** Node's `util.inspect.custom`, without importing `node:util`. */
export const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');
