/**
 * `ContextVar`: a variable whose value depends on the current Context (Python's
 * `contextvars.ContextVar`).
 *
 * An object value is kept in a `WeakMap` owned by the var, keyed by the trie leaf
 * that a `set` creates. The Context's trie holds the leaf; the var holds the
 * value. So the value lives exactly as long as both its var and some Context that
 * maps to it (PEP 550's weak-key mapping): dropping either one frees it.
 * Primitives cannot be observed being collected and an ephemeron insert costs
 * several times the rest of a `set`, so they sit in the leaf itself and live as
 * long as the Contexts that hold it.
 *
 * @module
 */
import { currentVars } from './context.js';
import {
  describe,
  InvalidArgTypeError,
  LookupError,
  TokenUsedError,
  TokenWrongContextError,
  TokenWrongVarError,
} from './errors.js';
import { Hamt, Leaf } from './hamt.js';
import {
  BOXED,
  type ContextState,
  inspectSymbol,
  leafValue,
  runtime,
  VAR_BRAND,
} from './runtime.js';
import { isToken, kCreateToken, Token } from './token.js';

/** Options of {@link ContextVar}. */
export interface ContextVarOptions<T> {
  /**
   * Returned by `get()` when the var has no value in the current Context. One
   * value for the whole process: keep it immutable (a frozen object, a primitive),
   * or a mutation made in one request is seen by every other.
   */
  default?: T;
}

function defaultHash(id: number): number {
  // Fibonacci hashing spreads consecutive ids over the 32-way levels.
  return Math.imul(id, 0x9e3779b1);
}

let hashOf: (id: number) => number = defaultHash;

/**
 * @internal Test hook: replaces the hash given to vars created afterwards (to force
 * trie collisions). Returns a function that restores the default.
 */
export function setHashFunctionForTesting(fn: (id: number) => number): () => void {
  hashOf = fn;
  return () => {
    hashOf = defaultHash;
  };
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null)
    return `<${value.constructor?.name ?? 'Object'}>`;
  if (typeof value === 'function') return `<function ${value.name}>`;
  return String(value);
}

/**
 * A context variable. Its value is looked up in the current Context, so code
 * anywhere in a request, a task or a callback chain sees that chain's value
 * without passing it as a parameter.
 *
 * @example
 * ```ts
 * const userId = new ContextVar<string>('userId');
 * await copyContext().run(async () => {
 *   userId.set('alice');
 *   await somethingAsync();
 *   userId.get(); // 'alice'
 * });
 * userId.get('anonymous'); // 'anonymous': the change stayed in the copy
 * ```
 */
export class ContextVar<T> {
  /** @internal */ readonly _id: number;
  /** @internal */ readonly _hash: number;
  /** @internal Values by trie leaf; see the module comment. */
  readonly _values: WeakMap<object, T>;
  /** @internal Shared by every leaf of this var, so leaves do not keep the var alive. */
  readonly _ref: WeakRef<ContextVar<T>>;
  /** @internal */ readonly _name: string;
  /** @internal */ readonly _hasDefault: boolean;
  /** @internal */ readonly _default: T | undefined;
  // Last lookup, valid while the current Context's version equals `_cacheVer`
  // (found) or `_missVer` (not set). Only primitives are cached: a cached object
  // would outlive its Context.
  /** @internal */ _cacheVer: number;
  /** @internal */ _cacheValue: unknown;
  /** @internal */ _missVer: number;

  /**
   * @param name - Shown in errors and `inspect`; need not be unique.
   * @param options - `default`: the value `get()` returns when the var is not set.
   * @throws {@link @contextvars/core!InvalidArgTypeError} if `name` is not a string.
   */
  constructor(name: string, options?: ContextVarOptions<T>) {
    if (typeof name !== 'string') {
      throw new InvalidArgTypeError(`ContextVar name must be a string, received ${describe(name)}`);
    }
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new InvalidArgTypeError(
        `ContextVar "${name}" options must be an object, received ${describe(options)}`,
      );
    }
    this._id = ++runtime.lastId;
    // Signed: a 32-bit integer V8 stores unboxed; an unsigned one above 2³¹ is a heap number.
    this._hash = hashOf(this._id) | 0;
    this._values = new WeakMap();
    this._ref = new WeakRef(this);
    this._name = name;
    this._hasDefault = options !== undefined && Object.hasOwn(options, 'default');
    this._default = this._hasDefault ? options!.default : undefined;
    this._cacheVer = -1;
    this._cacheValue = undefined;
    this._missVer = -1;
  }

  /** The name given at creation. Read-only. */
  get name(): string {
    return this._name;
  }

  /**
   * The value in the current Context; else `fallback` if one is passed (even
   * `undefined`); else the var's default.
   *
   * @throws {@link @contextvars/core!LookupError} (`ERR_CONTEXTVAR_LOOKUP`) when there is none of these.
   */
  get(): T;
  get<D>(fallback: D): T | D;
  get(fallback?: unknown): unknown {
    const ctx = currentVars();
    const ver = ctx._ver;
    if (ver === this._cacheVer) return this._cacheValue;
    if (ver !== this._missVer) {
      const leaf = ctx._map.find(this._hash, this._id);
      if (leaf !== undefined) {
        const value = leaf.value;
        if (value !== BOXED) {
          this._cacheVer = ver;
          this._cacheValue = value;
          return value;
        }
        return this._values.get(leaf);
      }
      this._missVer = ver;
    }
    // biome-ignore lint/complexity/noArguments: an explicit `undefined` fallback must count.
    return this.missing(arguments.length > 0, fallback);
  }

  private missing(hasFallback: boolean, fallback: unknown): unknown {
    if (hasFallback) return fallback;
    if (this._hasDefault) return this._default;
    throw new LookupError(
      `ContextVar "${this._name}" has no value in the current context and no default`,
    );
  }

  /**
   * Sets the value in the current Context. Code that later runs in the same
   * Context (what follows, callers, and async continuations scheduled in it)
   * sees it; other Contexts and earlier snapshots do not.
   *
   * @returns A {@link @contextvars/core!Token} for {@link @contextvars/core!ContextVar.reset}, or for `using`.
   */
  set(value: T): Token<T> {
    const ctx = currentVars();
    const old = this.write(ctx, value);
    return new Token(
      kCreateToken,
      this,
      ctx,
      old === undefined ? Token.MISSING : leafValue(this, old),
    );
  }

  /** Stores `value` in `ctx`; returns the leaf it replaced (`undefined` if the var was unset). */
  private write(ctx: ContextState, value: T): Leaf<unknown> | undefined {
    const ver = ++runtime.lastVersion;
    let leaf: Leaf<WeakRef<ContextVar<T>>>;
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
      leaf = new Leaf(this._hash, this._id, this._ref, value);
      this._cacheVer = ver;
      this._cacheValue = value;
    } else {
      leaf = new Leaf(this._hash, this._id, this._ref, BOXED);
      this._values.set(leaf, value);
    }
    ctx._map = ctx._map.set(leaf);
    ctx._ver = ver;
    return Hamt.takeReplaced();
  }

  /**
   * Restores the value this var had before the `set` that returned `token` (or
   * removes it, if it had none). A token works once, for its own var, in the
   * Context where it was created.
   *
   * @throws {@link @contextvars/core!InvalidArgTypeError} if `token` is not a Token.
   * @throws {@link @contextvars/core!TokenUsedError} if the token was already used.
   * @throws {@link @contextvars/core!TokenWrongVarError} if another var created the token.
   * @throws {@link @contextvars/core!TokenWrongContextError} if the current Context is not the token's.
   */
  reset(token: Token<T>): void {
    if (!isToken(token)) {
      throw new InvalidArgTypeError(
        `ContextVar "${this._name}" reset() needs a Token, received ${describe(token)}`,
      );
    }
    if (token._used) {
      throw new TokenUsedError(
        `${String(token)} of ContextVar "${this._name}" has already been used once`,
      );
    }
    if (token.var !== this) {
      throw new TokenWrongVarError(
        `Token was created by ContextVar "${token.var.name}", not by ContextVar "${this._name}"`,
      );
    }
    const ctx = currentVars();
    if (token._ctx !== ctx) {
      throw new TokenWrongContextError(
        `Token of ContextVar "${this._name}" was created in a different Context`,
      );
    }
    token._used = true;
    if (token.oldValue === Token.MISSING) this.remove(ctx);
    else this.write(ctx, token.oldValue);
  }

  /**
   * Removes the var from the current Context; `get()` then falls back to the
   * default. An extension over Python, which has no `del`.
   *
   * @throws {@link @contextvars/core!LookupError} if the var has no value in the current Context.
   */
  delete(): void {
    const ctx = currentVars();
    if (ctx._map.find(this._hash, this._id) === undefined) {
      throw new LookupError(
        `ContextVar "${this._name}" cannot be deleted: it has no value in the current context`,
      );
    }
    this.remove(ctx);
  }

  private remove(ctx: ContextState): void {
    ctx._map = ctx._map.delete(this._hash, this._id);
    ctx._ver = ++runtime.lastVersion;
  }

  /** `'ContextVar'`, so `Object.prototype.toString` reads `[object ContextVar]`. */
  get [Symbol.toStringTag](): string {
    return 'ContextVar';
  }

  /** `ContextVar(name="…", default=…)`. */
  toString(): string {
    const def = this._hasDefault ? `, default=${formatValue(this._default)}` : '';
    return `ContextVar(name=${JSON.stringify(this._name)}${def})`;
  }

  /** @internal */
  [inspectSymbol](): string {
    const def = this._hasDefault ? `, default: ${formatValue(this._default)}` : '';
    return `ContextVar { name: ${JSON.stringify(this._name)}${def} }`;
  }
}

Object.defineProperty(ContextVar.prototype, VAR_BRAND, { value: true });
