/**
 * `Token`: the receipt of a `ContextVar#set`, which `reset` uses to restore the
 * value the var had before (Python's `contextvars.Token`).
 *
 * @module
 */
import type { ContextVar } from './context-var.js';
import { IllegalConstructorError } from './errors.js';
import { type ContextState, disposeSymbol, inspectSymbol, TOKEN_BRAND } from './runtime.js';

/** @internal Guards the constructor: only a ContextVar may create tokens. */
export const kCreateToken = Symbol('createToken');

/**
 * Returned by {@link ContextVar.set}; pass it to {@link ContextVar.reset} to restore
 * the previous value, or let `using` do it at the end of the block:
 *
 * @example
 * ```ts
 * {
 *   using _ = userId.set('alice');
 *   await handle();      // sees 'alice'
 * }                      // userId is back to what it was
 * ```
 */
export class Token<T> implements Disposable {
  /** `oldValue` of a token whose var had no value before the `set`. */
  static readonly MISSING: unique symbol = Symbol.for('@contextvars/core:Token.MISSING') as never;

  /** The variable whose `set` created this token. */
  readonly var: ContextVar<T>;
  /** The value the variable had before the `set`, or {@link Token.MISSING}. */
  readonly oldValue: T | typeof Token.MISSING;
  /** @internal The Context in which the token was created. */
  readonly _ctx: ContextState;
  /** @internal */ _used: boolean;

  /** @internal Tokens are created by `ContextVar#set` only. */
  constructor(key: typeof kCreateToken, v: ContextVar<T>, ctx: ContextState, oldValue: unknown) {
    if (key !== kCreateToken) {
      throw new IllegalConstructorError('Tokens can only be created by ContextVar#set()');
    }
    this.var = v;
    this._ctx = ctx;
    this.oldValue = oldValue as T | typeof Token.MISSING;
    this._used = false;
  }

  /** Whether the token was already passed to `reset` (or disposed). */
  get used(): boolean {
    return this._used;
  }

  /** Resets the variable if the token is not used yet; a no-op otherwise. */
  [disposeSymbol](): void {
    if (!this._used) this.var.reset(this);
  }

  /** `Token(var=…, used=…)`. */
  toString(): string {
    return `Token(var=${String(this.var)}, used=${this._used})`;
  }

  /** @internal */
  [inspectSymbol](): string {
    return `Token { var: ${String(this.var)}, used: ${this._used} }`;
  }
}

Object.defineProperty(Token.prototype, TOKEN_BRAND, { value: true });

/** @internal Whether `value` is a Token of any copy of this package. */
export function isToken(value: unknown): value is Token<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as { [TOKEN_BRAND]?: unknown })[TOKEN_BRAND] === true
  );
}
