/**
 * `ScopedValue`: a value bound for the extent of a call and the async work it
 * starts (TC39 AsyncContext's `Variable`, Java's `ScopedValue`), living beside the
 * variables of the current Context instead of inside them.
 *
 * A `ContextVar#set` changes the current Context for everyone who shares it; a
 * scoped value is undone when its call returns. OpenTelemetry needs exactly that
 * for the active span (`context.with(spanCtx, hook)`), while the variables a hook
 * sets must outlive the hook. So `run` makes a frame that carries the value and
 * shares the current Context's variables. Snapshots (`copyContext`, `wrap`)
 * capture the scoped values in force, and running them restores them.
 *
 * Each owner creates its own `ScopedValue`; the object is the key, so two owners
 * (two OpenTelemetry context managers) never see each other's values.
 *
 * @module
 */
import { currentContext, Frame } from './context.js';
import { currentStore, enterStore, runWithStore } from './current-store.js';
import { describe, InvalidArgTypeError } from './errors.js';
import { type Binding, type ContextState, disposeSymbol, inspectSymbol } from './runtime.js';

function lookup(list: Binding | undefined, key: object): Binding | undefined {
  for (let b = list; b !== undefined; b = b.next) if (b.key === key) return b;
  return undefined;
}

/** `list` without the entry of `key`, sharing the tail after it. */
function without(list: Binding | undefined, key: object): Binding | undefined {
  if (list === undefined) return undefined;
  if (list.key === key) return list.next;
  const rest = without(list.next, key);
  return rest === list.next ? list : { key: list.key, value: list.value, next: rest };
}

function bind(list: Binding | undefined, key: object, value: unknown): Binding {
  return { key, value, next: without(list, key) };
}

/** A frame of the current Context's variables with `key` bound to `value`. */
function frameWith(key: object, value: unknown): ContextState {
  const current = currentContext();
  return new Frame(current._vars, bind(current._scopes, key, value)) as unknown as ContextState;
}

/**
 * What {@link ScopedValue.attach} returns: `dispose()` (or `using`) restores the
 * frame that was current before the attach. Disposing twice does nothing.
 */
export interface ScopeToken extends Disposable {
  /** Restores the frame that was current before the attach; only the first call counts. */
  dispose(): void;
}

class AttachToken implements ScopeToken {
  private disposed = false;
  constructor(private readonly previous: ContextState | undefined) {}

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    enterStore(this.previous as ContextState);
  }

  [disposeSymbol](): void {
    this.dispose();
  }
}

/**
 * A value bound for the extent of a call: `sv.run(value, fn)` makes `value`
 * current for `fn` and for the async work `fn` starts, and the previous one is
 * current again when `fn` returns. Context variables set inside `fn` land in the
 * current Context and stay after it.
 *
 * @example
 * ```ts
 * const activeSpan = new ScopedValue<string>('span');
 * activeSpan.run('span-1', async () => {
 *   await work();
 *   activeSpan.get(); // 'span-1'
 * });
 * activeSpan.get(); // undefined
 * ```
 */
export class ScopedValue<T> {
  /** A name for messages and `inspect`; it plays no part in lookups. */
  readonly name: string;

  /** @throws {@link InvalidArgTypeError} if `name` is not a string. */
  constructor(name: string) {
    if (typeof name !== 'string') {
      throw new InvalidArgTypeError(
        `ScopedValue name must be a string, received ${describe(name)}`,
      );
    }
    this.name = name;
  }

  /** The value bound in the current frame, or `undefined` when none is. */
  get(): T | undefined {
    const binding = lookup(currentContext()._scopes, this);
    return binding === undefined ? undefined : (binding.value as T);
  }

  /** Whether a value is bound in the current frame (`undefined` may be one). */
  has(): boolean {
    return lookup(currentContext()._scopes, this) !== undefined;
  }

  /**
   * Calls `fn` with `value` bound, and returns its result. Async work that `fn`
   * starts keeps the value; after `fn` returns or throws, the previous one is back.
   *
   * @throws {@link InvalidArgTypeError} if `fn` is not a function.
   */
  run<R>(value: T, fn: () => R): R {
    if (typeof fn !== 'function') {
      throw new InvalidArgTypeError(`ScopedValue.run() needs a function, received ${describe(fn)}`);
    }
    const binding = lookup(currentContext()._scopes, this);
    // Already in force: nothing to enter (as AsyncLocalStorage#run does for its own store).
    if (binding !== undefined && binding.value === value) return fn();
    return runWithStore(frameWith(this, value), fn);
  }

  /**
   * Binds `value` for the rest of the current synchronous execution and the async
   * work started from it, until the returned token is disposed: OpenTelemetry's
   * `ContextManager#attach`. Prefer {@link ScopedValue.run}: called in an async
   * function before its first `await`, the binding also stays in the caller.
   */
  attach(value: T): ScopeToken {
    const previous = currentStore();
    enterStore(frameWith(this, value));
    return new AttachToken(previous);
  }

  /** `ScopedValue(name)`. */
  toString(): string {
    return `ScopedValue(${this.name})`;
  }

  /** @internal */
  [inspectSymbol](): string {
    return `ScopedValue { name: ${JSON.stringify(this.name)} }`;
  }
}
