/**
 * `@contextvars/core`: Python's `contextvars` (PEP 567) for Node.js.
 *
 * @packageDocumentation
 */
export { Context, copyContext, wrap } from './context.js';
export { ContextVar, type ContextVarOptions } from './context-var.js';
export {
  ContextEnteredError,
  ContextVarsError,
  type ContextVarsErrorCode,
  IllegalConstructorError,
  InvalidArgTypeError,
  LookupError,
  TokenUsedError,
  TokenWrongContextError,
  TokenWrongVarError,
} from './errors.js';
export { independent } from './independent.js';
export { requestId } from './request-id.js';
export { Token } from './token.js';
