/**
 * Reading one header from Node's `rawHeaders` list (name, value, name, value…).
 * No `node:` import: fetch-based adapters running on a Node server use it too.
 *
 * @module
 */

/**
 * The value of header `name` (lower case) if it was sent exactly once, else
 * `undefined`. Reading `rawHeaders` avoids building Node's `headers` object (or a
 * fetch `Headers`) for a request that never needs it.
 */
export function singleRawHeader(rawHeaders: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const key = rawHeaders[i]!;
    if (key.length === name.length && key.toLowerCase() === name) {
      if (found !== undefined) return undefined; // repeated: never trusted
      found = rawHeaders[i + 1];
    }
  }
  return found;
}
