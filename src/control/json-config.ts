// The JSON fast path of the config loader. YAML 1.2 includes JSON, so a director.yaml written
// as JSON is a valid config either way; parsed as YAML, a generated table of 10 000 services x
// 10 servers (5 MB) costs about 6 s of CPU here, parsed as JSON 0.03 s. Same rules as the YAML
// parser: a repeated key in an object is refused (JSON.parse would keep the last silently),
// with its line.

/** The value of `text` when it is one JSON object, else undefined (then it is read as YAML). */
export function parseJsonConfig(text: string): { value: unknown } | undefined {
  let i = 0;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r' || text[i] === '\ufeff')) i++;
  if (text[i] !== '{') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return undefined; // not JSON after all (e.g. a YAML flow mapping): the YAML parser says what is wrong
  }
  const dup = duplicateKey(text);
  if (dup) throw new DuplicateKeyError(dup.key, dup.line);
  return { value };
}

export class DuplicateKeyError extends Error {
  constructor(
    readonly key: string,
    readonly line: number,
  ) {
    super(`key "${key}" appears twice in one object (line ${line}); keys must be unique`);
  }
}

/**
 * The first key repeated within one object of `text` (valid JSON), with its line. One pass
 * over the text: objects keep their keys in a set while open.
 */
export function duplicateKey(text: string): { key: string; line: number } | undefined {
  // Per open container: the keys seen (objects) or null (arrays).
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    else if (c === 123 /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 91 /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 44 /* , */) {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
    } else if (c === 34 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < text.length) {
        const d = text.charCodeAt(j);
        if (d === 92 /* \ */) {
          escaped = true;
          j += 2;
          continue;
        }
        if (d === 34) break;
        j++;
      }
      if (expectKey) {
        const raw = text.slice(i + 1, j);
        const key = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
        const keys = stack[stack.length - 1]!;
        if (keys.has(key)) return { key, line };
        keys.add(key);
        expectKey = false;
      }
      i = j;
    }
  }
  return undefined;
}
