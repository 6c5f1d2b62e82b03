/**
 * JSON-safe values: the only thing a record holds. Checked by walking the value with
 * a byte budget, so a hostile input (huge, deeply nested, cyclic, or with keys that
 * pollute prototypes when merged) is refused early and never fully serialized.
 *
 * @module
 */

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Keys that are dangerous once an app merges a decoded object into another. */
const POISONED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** How deep a JSON value may nest; a record of 8 KiB has no honest use for more. */
export const MAX_DEPTH = 32;

/** Whether `key` must never appear in a record, at any depth. */
export function isPoisonedKey(key: string): boolean {
  return POISONED_KEYS.has(key);
}

/**
 * Why `value` is not JSON-safe, or `undefined` when it is. Plain objects and arrays
 * only (no class instances, no holes, no cycles), finite numbers, no poisoned keys;
 * `budget` bounds the work: the walk counts a lower bound of the value's JSON size in
 * UTF-8 bytes (UTF-16 units of strings, no escapes, no commas) and gives up with
 * `'too large'` once it passes the budget, so `'too large'` is never a false alarm.
 */
export function jsonProblem(value: unknown, budget: number): string | undefined {
  let left = budget;
  const walk = (v: unknown, depth: number): string | undefined => {
    if (depth > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH}`;
    switch (typeof v) {
      case 'string':
        left -= v.length + 2;
        return left < 0 ? 'too large' : undefined;
      case 'number':
        left -= 1;
        return Number.isFinite(v) ? undefined : `${v} is not JSON`;
      case 'boolean':
        left -= 4;
        return undefined;
      case 'object': {
        if (v === null) {
          left -= 4;
          return left < 0 ? 'too large' : undefined;
        }
        left -= 2;
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            if (!(i in v)) return 'a sparse array';
            const problem = walk(v[i], depth + 1);
            if (problem !== undefined) return problem;
          }
          return left < 0 ? 'too large' : undefined;
        }
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return 'not a plain object';
        // Own keys only, symbols included: a symbol key would be dropped silently.
        for (const key of Reflect.ownKeys(v)) {
          if (typeof key === 'symbol') return 'a symbol key';
          if (isPoisonedKey(key)) return `the key "${key}"`;
          const desc = Object.getOwnPropertyDescriptor(v, key)!;
          if (!('value' in desc)) return `an accessor "${key}"`;
          if (!desc.enumerable) continue;
          left -= key.length + 3;
          const problem = walk(desc.value, depth + 1);
          if (problem !== undefined) return problem;
        }
        return left < 0 ? 'too large' : undefined;
      }
      default:
        return `a value of type ${typeof v}`;
    }
  };
  return walk(value, 0);
}
