/**
 * Re-entering a Context from outside it through a frame captured inside it.
 *
 * Where `AsyncLocalStorage` keeps its stores in an `AsyncContextFrame` (Node 24
 * and later, unless `--no-async-context-frame`), `run` copies the frame's map
 * twice, once to enter and once to leave: about 3,700 instructions. An
 * `AsyncResource` made while the Context was current swaps that frame in and out
 * instead (about 450), for a making of about 600. The emitter binding makes one
 * for a Context whose stream starts being read (see `bind-emitter.ts`): the
 * stream's data events then come from I/O, outside every Context, often more
 * than once. Where `AsyncLocalStorage` rides on `async_hooks` (Node 20 and 22),
 * `run` is the cheap way (about 300) and nothing is captured.
 *
 * A listener re-entered this way sees the other `AsyncLocalStorage` stores as
 * they were where the frame was captured (as `AsyncResource.bind` gives), not as
 * at the `emit`; the Context's own variables and scoped values are the same
 * either way.
 *
 * @module
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { Capture } from './runtime.js';

/**
 * Whether `AsyncResource#runInAsyncScope` exchanges whole frames. Under
 * `async_hooks` a store entered inside `runInAsyncScope` sticks to the resource;
 * with frames it leaves with the call.
 */
function probeFrames(): boolean {
  const probe = new AsyncLocalStorage<true>();
  const resource = new AsyncResource('contextvars.probe');
  resource.runInAsyncScope(() => probe.enterWith(true));
  const sticks = resource.runInAsyncScope(() => probe.getStore()) === true;
  // Under async_hooks an enabled storage costs every async resource made later.
  probe.disable();
  return !sticks;
}

/** Whether capturing frames pays on this runtime. */
export const framesExchange: boolean = probeFrames();

/** A capture of the current frame. */
export function captureCurrentFrame(): Capture {
  return new AsyncResource('contextvars.Context');
}
