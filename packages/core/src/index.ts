/**
 * `@contextvars/core`: Python's `contextvars` (PEP 567) for Node.js.
 *
 * @packageDocumentation
 */

export {
  bindEmitter,
  boundContext,
  type ListenerRunner,
  shareEmitterBinding,
} from './bind-emitter.js';
export { Context, captureListenerFrame, copyContext, reenter, wrap } from './context.js';
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
export { type AnyGenerator, independent } from './independent.js';
export { requestId } from './request-id.js';
export { ScopedValue, type ScopeToken } from './scoped-value.js';
export { Token } from './token.js';
