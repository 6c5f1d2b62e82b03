/**
 * Finds keys that appear twice in one JSON object of a raw log line. `JSON.parse`
 * keeps the last of two equal keys silently, so a duplicate can only be seen in the
 * raw text: this scans it.
 */

/** A duplicated key: its path (`$` is the line, `$.req` an object under it). */
export interface DuplicateKey {
  path: string;
  key: string;
}

/**
 * The duplicated keys of the JSON text `line`, in order of their second
 * appearance. Throws on text that is not one JSON value.
 */
export function duplicateKeys(line: string): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  let i = 0;

  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at ${i} in ${line.slice(0, 200)}`);
  };
  const skipSpace = () => {
    while (i < line.length && ' \t\n\r'.includes(line[i]!)) i++;
  };
  const readString = (): string => {
    const start = i;
    i++; // opening quote
    while (i < line.length && line[i] !== '"') i += line[i] === '\\' ? 2 : 1;
    if (i >= line.length) fail('unterminated string');
    i++;
    return JSON.parse(line.slice(start, i)) as string;
  };
  const readValue = (path: string): void => {
    skipSpace();
    const c = line[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      skipSpace();
      if (line[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skipSpace();
        if (line[i] !== '"') fail('expected a key');
        const key = readString();
        if (seen.has(key)) found.push({ path, key });
        seen.add(key);
        skipSpace();
        if (line[i] !== ':') fail('expected :');
        i++;
        readValue(`${path}.${key}`);
        skipSpace();
        if (line[i] === ',') {
          i++;
          continue;
        }
        if (line[i] === '}') {
          i++;
          return;
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      skipSpace();
      if (line[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        readValue(`${path}[${n}]`);
        skipSpace();
        if (line[i] === ',') {
          i++;
          continue;
        }
        if (line[i] === ']') {
          i++;
          return;
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') {
      readString();
      return;
    }
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(line.slice(i, i + 64));
    if (m === null) fail('unexpected character');
    i += m![0].length;
  };

  readValue('$');
  skipSpace();
  if (i !== line.length) fail('trailing text');
  return found;
}

/** Every duplicated key of every non-empty line of `text`, with the line. */
export function duplicateKeysInLines(text: string): { line: string; duplicates: DuplicateKey[] }[] {
  const out: { line: string; duplicates: DuplicateKey[] }[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const duplicates = duplicateKeys(line);
    if (duplicates.length > 0) out.push({ line, duplicates });
  }
  return out;
}
