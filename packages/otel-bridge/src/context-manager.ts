/**
 * An OpenTelemetry `ContextManager` whose active context lives in the contextvars
 * Context: `copyContext()` captures the active span, running a snapshot restores it.
 *
 * The active OpenTelemetry context is the current Context's *scoped value*
 * (`runWithScopedValue` in the core). `with(ctx, fn)` runs `fn` in a scope that has
 * `ctx` as its value but shares the variables of the enclosing Context. That is the
 * whole design: instrumentations wrap every hook in `context.with(spanCtx, hook)`;
 * the span is scoped to the hook as OpenTelemetry requires, while a var the hook
 * sets lands in the request's Context and stays visible to the later hooks and the
 * handler. A manager that copied the Context in `with` would lose those values; one
 * that set the span as a var would leak it past `with`.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { bindEmitter, getScopedValue, runWithScopedValue } from '@contextvars/core';
import {
  type ContextManager,
  type Context as OtelContext,
  context as otelContext,
  ROOT_CONTEXT,
} from '@opentelemetry/api';

/**
 * The contextvars-backed `ContextManager`. Behaves as OpenTelemetry's
 * `AsyncLocalStorageContextManager` does (`with` nesting and restoring, `bind` of
 * functions and of EventEmitters), and in addition lets `copyContext()`, `wrap()`
 * and the framework adapters carry the active span with the request's variables.
 *
 * @example
 * ```ts
 * import { context } from '@opentelemetry/api';
 * context.setGlobalContextManager(new ContextVarsContextManager().enable());
 * ```
 */
export class ContextVarsContextManager implements ContextManager {
  private enabled = false;

  /** The active OpenTelemetry context: the current Context's, else `ROOT_CONTEXT`. */
  active(): OtelContext {
    if (!this.enabled) return ROOT_CONTEXT;
    return (getScopedValue() as OtelContext | undefined) ?? ROOT_CONTEXT;
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
      return runWithScopedValue(ctx, fn as unknown as () => ReturnType<F>);
    }
    return runWithScopedValue(ctx, () => fn.apply(thisArg, args));
  }

  /**
   * A function that runs `target` with `context` active, or an EventEmitter whose
   * listeners added from now on do; anything else is returned as it is.
   */
  bind<T>(context: OtelContext, target: T): T {
    if (target instanceof EventEmitter) {
      const ctx = context ?? ROOT_CONTEXT;
      return bindEmitter(target, (call) => runWithScopedValue(ctx, call)) as T;
    }
    if (typeof target === 'function')
      return this.bindFunction(context ?? ROOT_CONTEXT, target as never) as T;
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

  /** Starts answering `active()`. */
  enable(): this {
    this.enabled = true;
    return this;
  }

  /** Stops: `active()` returns `ROOT_CONTEXT` until enabled again. */
  disable(): this {
    this.enabled = false;
    return this;
  }
}

/**
 * Installs a {@link ContextVarsContextManager} as OpenTelemetry's global context
 * manager. Returns a disposer that uninstalls it (usable with `using`).
 *
 * @throws Error if another global context manager is already registered.
 */
export function registerContextManager(): (() => void) & Disposable {
  const manager = new ContextVarsContextManager().enable();
  if (!otelContext.setGlobalContextManager(manager)) {
    throw new Error(
      'registerContextManager(): another OpenTelemetry context manager is already registered',
    );
  }
  const dispose = () => {
    manager.disable();
    otelContext.disable();
  };
  return Object.assign(dispose, { [Symbol.dispose]: dispose });
}
