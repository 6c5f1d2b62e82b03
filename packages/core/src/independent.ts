/**
 * `independent(gen)`: a generator that carries its own Context across resumes, as
 * CPython's `generator._context` does for PEP 550's motivating example.
 *
 * @module
 */
import { type Context, callIn, copyContext } from './context.js';
import { describe, InvalidArgTypeError } from './errors.js';

/** Any generator or async generator. */
export type AnyGenerator =
  | Generator<unknown, unknown, unknown>
  | AsyncGenerator<unknown, unknown, unknown>;

// The prototypes generator objects inherit iterator helpers (map, take, …) from.
const IteratorPrototype: object = Object.getPrototypeOf(Object.getPrototypeOf((function* () {})()));
const AsyncIteratorPrototype: object = Object.getPrototypeOf(
  Object.getPrototypeOf((async function* () {})()),
);

function isGenerator(value: unknown): value is AnyGenerator {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AnyGenerator).next === 'function' &&
    typeof (value as AnyGenerator).return === 'function' &&
    typeof (value as AnyGenerator).throw === 'function'
  );
}

/**
 * Makes a generator or async generator independent of whoever resumes it: every
 * `next`, `throw` and `return` runs its body in `context` (by default a copy of
 * the current Context, taken now). Values the body sets persist from one resume to
 * the next and never reach the caller; the caller's later changes do not reach the
 * body.
 *
 * Plain generators stay dependent, as in Python: their body runs in the Context of
 * whoever calls `next()`.
 *
 * @example
 * ```ts
 * function* withPrecision(p: number) { precision.set(p); while (true) yield precision.get(); }
 * const a = independent(withPrecision(2));
 * const b = independent(withPrecision(5));
 * a.next().value; b.next().value; a.next().value; // 2, 5, 2
 * ```
 *
 * @throws {@link InvalidArgTypeError} if `gen` is not a generator.
 */
export function independent<G extends AnyGenerator>(gen: G, context?: Context): G {
  if (!isGenerator(gen)) {
    throw new InvalidArgTypeError(`independent() needs a generator, received ${describe(gen)}`);
  }
  const ctx = context ?? copyContext();
  const isAsync =
    typeof (gen as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
  const wrapper = Object.create(isAsync ? AsyncIteratorPrototype : IteratorPrototype) as Record<
    PropertyKey,
    unknown
  >;
  const target = gen as unknown as Record<'next' | 'return' | 'throw', (arg?: unknown) => unknown>;
  for (const method of ['next', 'return', 'throw'] as const) {
    Object.defineProperty(wrapper, method, {
      value: function (this: unknown, ...args: unknown[]) {
        return callIn(ctx, () => target[method](...args));
      },
      writable: true,
      configurable: true,
    });
  }
  Object.defineProperty(wrapper, Symbol.toStringTag, {
    value: isAsync ? 'AsyncGenerator' : 'Generator',
    configurable: true,
  });
  return wrapper as unknown as G;
}
