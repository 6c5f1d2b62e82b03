/**
 * The errors thrown by `@contextvars/otel-bridge`, each with a stable `code`.
 *
 * @module
 */

/** `registerContextManager()` found another OpenTelemetry context manager registered. */
export class ContextManagerRegisteredError extends Error {
  /** Always `'ERR_CONTEXT_MANAGER_REGISTERED'`. */
  readonly code = 'ERR_CONTEXT_MANAGER_REGISTERED' as const;

  constructor(message: string) {
    super(message);
    this.name = 'ContextManagerRegisteredError';
  }
}
