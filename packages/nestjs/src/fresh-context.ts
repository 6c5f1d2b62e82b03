/**
 * Fresh Contexts outside HTTP: cron jobs, queue consumers, microservice message
 * and event handlers. Nothing opens a Context for them, so without these every run
 * of a job would share the Context its scheduler was started in, and a value one
 * run sets would still be there for the next.
 *
 * @module
 */
import { copyContext, reenter } from '@contextvars/core';

/**
 * Calls `fn` in a fresh Context: a copy of the current one (Python's
 * `copy_context().run`), so `fn` sees what was set around it (such as the span
 * that tracing made active for a message) and nothing `fn` sets leaks out, to the
 * caller or to the next run. Async work `fn` starts stays in that Context.
 *
 * Use it where you own the call site: a consumer loop, a `setInterval`, a
 * listener you register yourself. Returns what `fn` returns.
 */
export function runInFreshContext<R>(fn: () => R): R {
  // The copy carries the caller's scoped values: a span that instrumentation made
  // active around the caller stays the active one inside.
  return copyContext().run(fn);
}

type Method = (this: unknown, ...args: any[]) => unknown;

/** What `WithContext` needs of an RxJS Observable; no dependency on RxJS itself. */
interface Subscribable {
  subscribe(...args: unknown[]): unknown;
  lift?: unknown;
}

function isObservable(value: unknown): value is Subscribable {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Subscribable).subscribe === 'function' &&
    typeof (value as Subscribable).lift === 'function'
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/**
 * An Observable that Nest subscribes to later, outside the method's Context (a
 * microservice handler's reply): every subscription is made in `ctx`. It inherits
 * from the original, so RxJS's `isObservable` and its operators still accept it.
 */
function subscribedIn(source: Subscribable, ctx: ReturnType<typeof copyContext>): Subscribable {
  const inContext = Object.create(source) as Subscribable;
  inContext.subscribe = (...args: unknown[]) => reenter(ctx, () => source.subscribe(...args));
  return inContext;
}

/** Copies the metadata that decorators applied before this one put on the method. */
function copyMetadata(from: object, to: object): void {
  const reflect = Reflect as unknown as {
    getOwnMetadataKeys?: (target: object) => unknown[];
    getOwnMetadata?: (key: unknown, target: object) => unknown;
    defineMetadata?: (key: unknown, value: unknown, target: object) => void;
  };
  if (reflect.getOwnMetadataKeys === undefined) return; // no reflect-metadata loaded
  for (const key of reflect.getOwnMetadataKeys(from)) {
    reflect.defineMetadata!(key, reflect.getOwnMetadata!(key, from), to);
  }
}

/**
 * A method decorator: every call of the method runs in a fresh Context (see
 * {@link runInFreshContext}). For methods that a framework calls, where you do not
 * own the call site: `@Cron()`/`@Interval()` jobs, `@MessagePattern()` and
 * `@EventPattern()` handlers, queue processors, `@OnEvent()` listeners.
 *
 * `setup`, if given, runs first inside the new Context with the method's `this` and
 * arguments: the place to set a job id or the message's tenant. A promise it
 * returns is awaited before the method runs (the method then returns a promise).
 * An Observable the method returns is subscribed in the method's Context.
 *
 * Place it above or below the framework's decorator: the metadata they put on the
 * method is kept either way.
 *
 * @example
 * ```ts
 * @Cron('0 * * * *')
 * @WithContext(() => requestId.set(`cron-${randomUUID()}`))
 * async refresh() { … }
 * ```
 */
export function WithContext<A extends unknown[] = never[], This = unknown>(
  setup?: (this: This, ...args: A) => unknown,
): <T extends (...args: A) => unknown>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => TypedPropertyDescriptor<T> {
  if (setup !== undefined && typeof setup !== 'function') {
    throw new TypeError('WithContext(setup): setup must be a function');
  }
  return <T extends (...args: A) => unknown>(
    _target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T> => {
    const method = descriptor.value as Method | undefined;
    if (typeof method !== 'function') {
      throw new TypeError(`@WithContext() decorates methods; ${String(propertyKey)} is not one`);
    }
    const inFreshContext = function (this: unknown, ...args: unknown[]): unknown {
      const ctx = copyContext();
      return reenter(ctx, () => {
        const ready = setup?.apply(this as This, args as A);
        const call = () => {
          const result = method.apply(this, args);
          return isObservable(result) ? subscribedIn(result, ctx) : result;
        };
        return isThenable(ready) ? Promise.resolve(ready).then(call) : call();
      });
    };
    Object.defineProperty(inFreshContext, 'name', { value: method.name });
    Object.defineProperty(inFreshContext, 'length', { value: method.length });
    copyMetadata(method, inFreshContext);
    return { ...descriptor, value: inFreshContext as unknown as T };
  };
}
