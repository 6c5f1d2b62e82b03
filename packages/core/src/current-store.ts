/**
 * Reading and switching the current Context: the runtime's `AsyncLocalStorage`
 * (`getStore`, `run`, `enterWith`), with one shortcut where its stores ride on
 * `async_hooks` (Node 20 and 22, and later ones with `--no-async-context-frame`).
 *
 * There `getStore` asks for the current async resource, which is a call into C++
 * when that resource is a native one (an HTTP parser's, a socket's), and then reads
 * the store off it with a megamorphic load: about 400 instructions. A request
 * reads its Context ten times or so inside one `run`. So `run` remembers its store
 * with the async id it runs under, and reads trust it while `executionAsyncId()`,
 * a typed-array read, still names that id. That is sound because the store lives
 * on the resource, one resource per id above 0 (0 is "no async context", shared
 * by unrelated callbacks, never remembered), and only these functions write this
 * storage's store on a resource that is running (`async_hooks`' `init` writes it
 * on new ones). An `enterWith` forgets; the end of a `run` brings back what was
 * remembered before it, which `run` has just restored on the resource. Nothing is
 * remembered outside a `run`, so no Context is kept alive by it.
 *
 * Under async context frames the id does not follow promise continuations, and
 * `getStore` is a cheap read of the frame: there the shortcut is off.
 *
 * @module
 */
import { executionAsyncId } from 'node:async_hooks';
import { framesExchange } from './captured-frame.js';
import { type ContextState, runtime } from './runtime.js';

const storage = runtime.storage;
const remembers = !framesExchange;

/** The store that is current now (`AsyncLocalStorage#getStore`). */
export function currentStore(): ContextState | undefined {
  if (remembers && executionAsyncId() === runtime.rememberedId) return runtime.remembered;
  return storage.getStore();
}

/** `fn(...args)` with `store` current (`AsyncLocalStorage#run`). */
export function runWithStore<A extends unknown[], R>(
  store: ContextState,
  fn: (...args: A) => R,
  ...args: A
): R {
  if (!remembers) return storage.run(store, fn, ...args);
  const id = executionAsyncId();
  const outerId = runtime.rememberedId;
  const outer = runtime.remembered;
  runtime.rememberedId = id > 0 ? id : Number.NaN;
  runtime.remembered = store;
  try {
    return storage.run(store, fn, ...args);
  } finally {
    // `run` has put back on the resource the store it found, which is `outer`
    // where `outer` was remembered for this same id; unless it found `store`
    // itself, when it enters and restores nothing.
    if (outerId === id && outer !== store) {
      runtime.rememberedId = id;
      runtime.remembered = outer;
    } else {
      forget();
    }
  }
}

/** Makes `store` current for the rest of this execution (`AsyncLocalStorage#enterWith`). */
export function enterStore(store: ContextState | undefined): void {
  storage.enterWith(store as ContextState);
  if (remembers) forget();
}

/** Drops the remembered store, so reads ask the storage again. */
function forget(): void {
  runtime.rememberedId = Number.NaN;
  runtime.remembered = undefined;
}
