/**
 * Duplicate object keys in JSON text.
 *
 * `JSON.parse` keeps the last of two equal keys, silently: `{"Statement":[Deny *],
 * "Statement":[Allow …]}` would evaluate as Allow while the stored text shows the Deny first.
 * RFC 8259 §4 leaves duplicate names to the implementation; IAM refuses them, so must we.
 * The scan is iterative (an explicit stack, no recursion), so nesting depth cannot exhaust the
 * call stack, and reads each character once.
 * @see https://www.rfc-editor.org/rfc/rfc8259#section-4
 */

export interface DuplicateKey {
  /** The key as JSON.parse decodes it (`"St\u0061tement"` is `Statement`). */
  readonly key: string;
  /** Where the object holding it sits, like `Statement[0].Condition`; `` for the top level. */
  readonly path: string;
}

interface Frame {
  /** Keys seen so far; undefined for an array. */
  readonly keys: Set<string> | undefined;
  /** Where this container sits. */
  readonly path: string;
  /** Arrays: the index of the current element. Objects: the current key. */
  index: number;
  key: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function childPath(frame: Frame): string {
  if (frame.keys === undefined) return `${frame.path}[${frame.index}]`;
  return frame.path === "" ? frame.key : `${frame.path}.${frame.key}`;
}

/**
 * The first key that appears twice in one object of `text`, or undefined. `text` must already
 * be valid JSON (call after `JSON.parse` succeeded); on anything else the answer is undefined
 * or meaningless, never an exception.
 */
export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) {
          escaped = true;
          i++;
        } else if (d === QUOTE) break;
      }
      if (expectKey && top?.keys !== undefined) {
        let key = text.slice(start + 1, i);
        if (escaped) {
          try {
            key = JSON.parse(text.slice(start, i + 1)) as string;
          } catch {
            return undefined;
          }
        }
        if (top.keys.has(key)) return { key, path: top.path };
        top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const path = top === undefined ? "" : childPath(top);
      stack.push({ keys: c === 0x7b ? new Set() : undefined, path, index: 0, key: "" });
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */ && top !== undefined) {
      if (top.keys === undefined) top.index++;
      else expectKey = true;
    }
  }
  return undefined;
}
