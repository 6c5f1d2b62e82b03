/**
 * How each declared var is written into a record and read back. The built-in codecs
 * check types both ways, so a record whose values were edited on the way (a number
 * where a string was declared) is refused rather than handed to app code.
 *
 * @module
 */
import { type JsonValue, jsonProblem } from './json.js';

/**
 * A codec of the app's own: `encode` turns the var's value into a JSON-safe value
 * for the record; `decode` turns it back, and throws when the value is not one it
 * could have written (the record is then refused whole).
 */
export interface Codec<T> {
  encode(value: T): JsonValue;
  decode(value: JsonValue): T;
}

/** The names of the built-in codecs. */
export type CodecName = 'string' | 'number' | 'boolean' | 'json';

/**
 * The codecs a var of type `T` may declare: its own {@link Codec}, `'json'` for any
 * JSON-safe value (checked when encoded and decoded), and `'string'`, `'number'`,
 * `'boolean'` for vars of those types.
 */
export type CodecFor<T> =
  | Codec<T>
  | 'json'
  | ([T] extends [string] ? 'string' : never)
  | ([T] extends [number] ? 'number' : never)
  | ([T] extends [boolean] ? 'boolean' : never);

/** The largest encoded value the json codec will even look at; the record limit is lower. */
const JSON_BUDGET = 16_384;

function typed<T>(type: 'string' | 'number' | 'boolean'): Codec<T> {
  const check = (value: unknown, what: string): T => {
    if (typeof value !== type) throw new TypeError(`${what} a ${type}, got ${typeof value}`);
    if (type === 'number' && !Number.isFinite(value)) {
      throw new TypeError(`${what} a finite number, got ${value}`);
    }
    return value as T;
  };
  return {
    encode: (value) => check(value, 'expected') as JsonValue,
    decode: (value) => check(value, 'the record holds not'),
  };
}

const json: Codec<JsonValue> = {
  encode(value) {
    const problem = jsonProblem(value, JSON_BUDGET);
    if (problem !== undefined) throw new TypeError(`not JSON-safe: ${problem}`);
    return value;
  },
  // The record was walked whole before any value is decoded (types, depth, poisoned
  // keys), so a second walk here would only cost time.
  decode: (value) => value,
};

const builtIn: Record<CodecName, Codec<any>> = {
  string: typed('string'),
  number: typed('number'),
  boolean: typed('boolean'),
  json,
};

/** Whether `codec` is one of ours, whose output needs no second JSON-safety check. */
export function isBuiltIn(codec: Codec<unknown>): boolean {
  return Object.values(builtIn).includes(codec);
}

/** The codec a declaration names, or `undefined` when it names none. */
export function resolveCodec(codec: unknown): Codec<unknown> | undefined {
  if (typeof codec === 'string')
    return Object.hasOwn(builtIn, codec) ? builtIn[codec as CodecName] : undefined;
  if (
    codec !== null &&
    typeof codec === 'object' &&
    typeof (codec as Codec<unknown>).encode === 'function' &&
    typeof (codec as Codec<unknown>).decode === 'function'
  ) {
    return codec as Codec<unknown>;
  }
  return undefined;
}
