/**
 * Re-entering a Context from outside every Context through a frame captured
 * inside it.
 *
 * Where `AsyncLocalStorage` keeps its stores in an `AsyncContextFrame` (Node 24
 * and later, unless `--no-async-context-frame`), `run` copies the frame's map
 * twice, once to enter and once to leave: about 3,700 instructions. An
 * `AsyncResource` made while the Context was current swaps that frame in and out
 * instead (about 450), for a making of about 600. The emitter binding makes one
 * for a Context whose stream starts being read in it (see `bind-emitter.ts`): the
 * stream's data events then come from I/O, with no Context current, often more
 * than once. Where `AsyncLocalStorage` rides on `async_hooks` (Node 20 and 22),
 * `run` is the cheap way (about 300) and nothing is captured.
 *
 * Only a listener called with no Context current goes through the capture (an
 * event from I/O); anywhere else, and for `reenter`, the caller's frame stays and
 * only the Context is entered. What such a listener sees differently: other
 * `AsyncLocalStorage` stores hold their values of where the frame was captured
 * (as `AsyncResource.bind` gives), not of where the event was emitted; and, being
 * an `AsyncResource`, the capture is what `executionAsyncId()` and
 * `executionAsyncResource()` name inside the listener (with `before`/`after`
 * hooks per call, and `init`/`destroy` for the capture, where `async_hooks` are
 * enabled). The capture lives as long as its Context (for a request: as long as
 * its `req` and `res`), and keeps those other stores' values alive that long.
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
