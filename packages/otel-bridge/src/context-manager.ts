/**
 * An OpenTelemetry `ContextManager` whose active context lives in the contextvars
 * Context: `copyContext()` captures the active span, running a snapshot restores it.
 *
 * Each manager keeps the active OpenTelemetry context in a `ScopedValue` of its
 * own. `with(ctx, fn)` runs `fn` in a frame that binds `ctx` but shares the
 * variables of the enclosing Context. That is the whole design: instrumentations
 * wrap every hook in `context.with(spanCtx, hook)`; the span is scoped to the hook
 * as OpenTelemetry requires, while a var the hook sets lands in the request's
 * Context and stays visible to the later hooks and the handler. A manager that
 * copied the Context in `with` would lose those values; one that set the span as a
 * var would leak it past `with`.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { bindEmitter, ScopedValue, type ScopeToken } from '@contextvars/core';
import {
  type ContextManager,
  type Context as OtelContext,
  context as otelContext,
  ROOT_CONTEXT,
} from '@opentelemetry/api';
import { ContextManagerRegisteredError } from './errors.js';
import { incomingContext } from './state.js';

// Private state behind a symbol: not part of the published type.
const kSlot = Symbol('contextvars.otel.slot');

/**
 * The contextvars-backed `ContextManager`. Behaves as OpenTelemetry's
 * `AsyncLocalStorageContextManager` does (`with` nesting and restoring, `bind` of
 * functions and of EventEmitters, `attach`), instance by instance: what one
 * manager makes active is never seen by another, nor by the same one after
 * `disable()`. In addition, `copyContext()`, `wrap()` and the framework adapters
 * carry the active context with the request's variables.
 *
 * When no context is active, `active()` returns the trace context that
 * {@link extractTraceContext} found on the incoming request (apps without HTTP
 * instrumentation), else `ROOT_CONTEXT`.
 *
 * @example
 * ```ts
 * import { context } from '@opentelemetry/api';
 * context.setGlobalContextManager(new ContextVarsContextManager().enable());
 * ```
 */
export class ContextVarsContextManager implements ContextManager {
  private [kSlot] = new ScopedValue<OtelContext>('opentelemetry.context');

  /** The active OpenTelemetry context. */
  active(): OtelContext {
    return this[kSlot].get() ?? incomingContext.get(ROOT_CONTEXT);
  }

  /**
   * Calls `fn` with `context` active; the previous one is active again when `fn`
   * returns. Async work started by `fn` keeps `context`. Variables set inside stay
   * in the enclosing contextvars Context.
   */
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: OtelContext,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const ctx = context ?? ROOT_CONTEXT;
    if (args.length === 0 && (thisArg === undefined || thisArg === null)) {
      return this[kSlot].run(ctx, fn as unknown as () => ReturnType<F>);
    }
    return this[kSlot].run(ctx, () => fn.apply(thisArg, args));
  }

  /**
   * Makes `context` active for the rest of the current synchronous execution and
   * the async work started from it, until the returned token is disposed
   * (OpenTelemetry's experimental `context.attach`). Prefer `with`: called in an
   * async function before its first `await`, the context also stays in the caller.
   */
  attach(context: OtelContext): ScopeToken {
    return this[kSlot].attach(context ?? ROOT_CONTEXT);
  }

  /**
   * A function that runs `target` with `context` active, or an EventEmitter whose
   * listeners added from now on do; anything else is returned as it is.
   */
  bind<T>(context: OtelContext, target: T): T {
    const ctx = context ?? ROOT_CONTEXT;
    if (target instanceof EventEmitter) {
      const slot = this[kSlot];
      return bindEmitter(target, (call) => slot.run(ctx, call)) as T;
    }
    if (typeof target === 'function') return this.bindFunction(ctx, target as never) as T;
    return target;
  }

  private bindFunction<F extends (...args: unknown[]) => unknown>(context: OtelContext, fn: F): F {
    const manager = this;
    const bound = function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => fn.apply(this, args));
    };
    Object.defineProperty(bound, 'length', {
      enumerable: false,
      configurable: true,
      writable: false,
      value: fn.length,
    });
    return bound as F;
  }

  /** Starts the manager; returns `this`. Nothing to set up: a new manager is ready. */
  enable(): this {
    return this;
  }

  /**
   * Forgets every context this manager made active (as `AsyncLocalStorage#disable`
   * does for OpenTelemetry's own manager): afterwards `active()` returns
   * `ROOT_CONTEXT` everywhere until `with`, `bind` or `attach` is used again.
   */
  disable(): this {
    this[kSlot] = new ScopedValue<OtelContext>('opentelemetry.context');
    return this;
  }
}

/**
 * Installs a {@link ContextVarsContextManager} as OpenTelemetry's global context
 * manager. Returns a disposer that uninstalls it (usable with `using`).
 *
 * @throws {@link ContextManagerRegisteredError} (`ERR_CONTEXT_MANAGER_REGISTERED`)
 *   if another global context manager is already registered.
 */
export function registerContextManager(): (() => void) & Disposable {
  const manager = new ContextVarsContextManager().enable();
  if (!otelContext.setGlobalContextManager(manager)) {
    throw new ContextManagerRegisteredError(
      'registerContextManager(): another OpenTelemetry context manager is already registered; ' +
        'disable it first (context.disable()) or pass a ContextVarsContextManager to your SDK',
    );
  }
  const dispose = () => {
    manager.disable();
    otelContext.disable();
  };
  return Object.assign(dispose, { [Symbol.dispose]: dispose });
}
