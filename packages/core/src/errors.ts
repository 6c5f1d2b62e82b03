/**
 * The errors thrown by `@contextvars/core`. Each has a stable `code`, so callers can
 * branch on `err.code` across package copies and versions instead of `instanceof`.
 *
 * @module
 */

/** Stable codes of the errors this package throws. */
export type ContextVarsErrorCode =
  | 'ERR_CONTEXTVAR_LOOKUP'
  | 'ERR_TOKEN_USED'
  | 'ERR_TOKEN_WRONG_VAR'
  | 'ERR_TOKEN_WRONG_CONTEXT'
  | 'ERR_CONTEXT_ENTERED'
  | 'ERR_ILLEGAL_CONSTRUCTOR';

/** Base class of every error of this package except {@link InvalidArgTypeError}. */
export class ContextVarsError extends Error {
  /** Stable, machine-readable error code. */
  readonly code: ContextVarsErrorCode;

  constructor(code: ContextVarsErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A variable has no value in the current context and no default (Python's `LookupError`). */
export class LookupError extends ContextVarsError {
  declare readonly code: 'ERR_CONTEXTVAR_LOOKUP';
  constructor(message: string) {
    super('ERR_CONTEXTVAR_LOOKUP', message);
  }
}

/** A token was passed to `reset` a second time. */
export class TokenUsedError extends ContextVarsError {
  declare readonly code: 'ERR_TOKEN_USED';
  constructor(message: string) {
    super('ERR_TOKEN_USED', message);
  }
}

/** A token was passed to the `reset` of a variable that did not create it. */
export class TokenWrongVarError extends ContextVarsError {
  declare readonly code: 'ERR_TOKEN_WRONG_VAR';
  constructor(message: string) {
    super('ERR_TOKEN_WRONG_VAR', message);
  }
}

/** A token was reset in a different Context from the one it was created in. */
export class TokenWrongContextError extends ContextVarsError {
  declare readonly code: 'ERR_TOKEN_WRONG_CONTEXT';
  constructor(message: string) {
    super('ERR_TOKEN_WRONG_CONTEXT', message);
  }
}

/** `ctx.run` was called while `ctx` is already entered in the current synchronous call chain. */
export class ContextEnteredError extends ContextVarsError {
  declare readonly code: 'ERR_CONTEXT_ENTERED';
  constructor(message: string) {
    super('ERR_CONTEXT_ENTERED', message);
  }
}

/** A constructor that only the package may call (`Token`) was called by user code. */
export class IllegalConstructorError extends ContextVarsError {
  declare readonly code: 'ERR_ILLEGAL_CONSTRUCTOR';
  constructor(message: string) {
    super('ERR_ILLEGAL_CONSTRUCTOR', message);
  }
}

/**
 * An argument has the wrong type: a var name that is not a string, a `reset` with
 * something that is not a Token, a Context key that is not a ContextVar, a `run`
 * without a function. A `TypeError`, like Node's own `ERR_INVALID_ARG_TYPE`.
 */
export class InvalidArgTypeError extends TypeError {
  /** Always `'ERR_INVALID_ARG_TYPE'`. */
  readonly code = 'ERR_INVALID_ARG_TYPE' as const;

  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgTypeError';
  }
}

/** A short, safe description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  if (typeof value === 'string') return `type string (${JSON.stringify(value.slice(0, 40))})`;
  return `type ${typeof value} (${String(value)})`;
}
