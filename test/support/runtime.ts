/**
 * What the runtime under test is, read from its version and flags (not from the code
 * under test, so that tests can check that code against it).
 */

/** The Node.js major version. */
export const nodeMajor = Number(process.versions.node.split('.')[0]);

const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;

/**
 * Whether `AsyncLocalStorage` keeps its stores in `AsyncContextFrame`s: opt-in on 22
 * (`--experimental-async-context-frame`), absent on 20, and the default from 24 on
 * unless `--no-async-context-frame` turns it off.
 */
export const asyncContextFrames =
  nodeMajor >= 24
    ? !flags.includes('--no-async-context-frame')
    : nodeMajor === 22 && flags.includes('--experimental-async-context-frame');

/**
 * Whether V8 gives an object whose prototype was swapped a new shape for every
 * property added afterwards (V8 before 13: Node 20 and 22), which is why the emitter
 * binding keeps such objects' bindings off the object there.
 */
export const newShapeAfterSwap = Number.parseInt(process.versions.v8, 10) < 13;
