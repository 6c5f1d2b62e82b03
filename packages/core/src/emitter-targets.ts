/**
 * Where an emitter's binding (the Context or runner its listeners run in, see
 * `bind-emitter.ts`) is kept.
 *
 * On the emitter, under a symbol, as a rule: one property write, read back by an
 * inline-cached load. Except, on V8 before 13 (Node 20 and 22), for an instance
 * of a shared prototype (`shareEmitterBinding`) that has been given another
 * prototype since, as Express does to every `req` and `res`: that V8 makes such
 * an object a new shape for every property it gets afterwards, never reusing the
 * one it made for the previous request (about 15,000 to 20,000 instructions per
 * property per request). Those bindings go to a table shared by every copy of the
 * package. Everywhere else the table would cost more than the property (its
 * entries are rehashed as the collector clears them: about 3,000 instructions per
 * entry per request).
 *
 * @module
 */
import { type ContextState, PROTOCOL, runtime } from './runtime.js';

/** Runs a listener call: in a Context, or however an integration wants (OpenTelemetry's `with`). */
export type ListenerRunner = <R>(call: () => R) => R;

/** Where an emitter's listeners run. */
export type Target = ContextState | ListenerRunner;

const kTarget = Symbol.for(`@contextvars/core:emitterTarget:${PROTOCOL}`);

type Holder = { [kTarget]?: Target };

const table = runtime.emitterTargets as WeakMap<object, Target>;

const versions = globalThis.process?.versions;

/**
 * Whether every property added to an object after its prototype changed makes a
 * new shape. Bun reports a V8 version of its own, but runs JavaScriptCore.
 */
const newShapeAfterSwap =
  versions?.bun === undefined && Number.parseInt(versions?.v8 ?? '', 10) < 13;

/**
 * Whether the `home` argument below can change the answer. Where it cannot, it is
 * not read here; `bind-emitter.ts` still needs to know whether there is one.
 */
export const homeMatters = newShapeAfterSwap;

/**
 * Whether `emitter`'s binding belongs in the table. `home` is the shared prototype
 * whose methods serve it, `undefined` for an emitter patched on its own. A swapped
 * prototype is told from a subclass's by its lack of an own `constructor`
 * (`Object.create`, as Express makes its `app.request` and `app.response`): a
 * subclass's instances keep stable shapes, and their properties stay cheap. Asked
 * once per operation, and the answer handed to {@link targetOf} and
 * {@link setTarget}: on V8 before 13 it reads the prototype chain.
 *
 * The answer must not change while the emitter is bound: a binding in the table is
 * not found again if the emitter is given back `home` itself as its prototype (no
 * framework does; Express's mounted apps swap to their parent's prototypes).
 */
export function inTable(emitter: object, home: object | undefined): boolean {
  if (!newShapeAfterSwap || home === undefined) return false;
  const proto = Object.getPrototypeOf(emitter);
  return proto !== home && !Object.hasOwn(proto, 'constructor');
}

// An emitter bound before its prototype changed (OpenTelemetry's HTTP
// instrumentation binds `req` before Express swaps it) keeps its property. The
// table's emitters are asked with `Object.hasOwn`: a load of a property they lack
// would search their whole prototype chain, with no cache, since each has a shape
// of its own.

/** The binding of `emitter`, `undefined` if it has none; `tabled` is {@link inTable}'s answer. */
export function targetOf(emitter: object, tabled: boolean): Target | undefined {
  if (!tabled) return (emitter as Holder)[kTarget];
  const target = table.get(emitter);
  if (target !== undefined || !Object.hasOwn(emitter, kTarget)) return target;
  return (emitter as Holder)[kTarget];
}

/** Makes `target` the binding of `emitter`, where {@link targetOf} finds it. */
export function setTarget(emitter: object, tabled: boolean, target: Target): void {
  if (tabled && !Object.hasOwn(emitter, kTarget)) table.set(emitter, target);
  else (emitter as Holder)[kTarget] = target;
}
