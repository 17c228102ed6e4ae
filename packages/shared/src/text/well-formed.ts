/**
 * Well-formed text: no lone (unpaired) UTF-16 surrogate. JavaScript strings and JSON's `\ud800`
 * escape can hold one; UTF-8 cannot, so the SQLite driver stores bytes that are not valid UTF-8 and
 * every later reader (the daemon, `sqlite3`, a webhook receiver) sees something other than what was
 * sent. A surrogate pair (an emoji, say) is one code point and is fine.
 */

/** In `u` mode a pair matches as one astral code point, so only a lone surrogate is category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The index of the first lone surrogate in `text`, or -1 when it is well-formed. */
export function loneSurrogateAt(text: string): number {
  return text.search(LONE_SURROGATE);
}

/** A path into a JSON value: object keys and array indexes, outermost first. */
export type JsonPath = Array<string | number>;

export interface IllFormedString {
  /** Where the string is; for a key, the path of the object that holds it. */
  path: JsonPath;
  /** true when the lone surrogate is in an object key rather than in a value */
  inKey: boolean;
}

/** A value to visit and how it was reached; the path is built only for the one that is reported. */
interface Visit {
  value: unknown;
  key: string | number | undefined;
  parent: Visit | undefined;
}

function pathOf(visit: Visit): JsonPath {
  const path: JsonPath = [];
  for (let at: Visit | undefined = visit; at?.parent !== undefined; at = at.parent) path.push(at.key as string | number);
  return path.reverse();
}

/**
 * The first string (value or object key) holding a lone surrogate in a parsed JSON value, depth
 * first in document order, or undefined when every string is well-formed. Iterative and linear in
 * the size of the value, so a deeply nested body can neither overflow the stack nor cost quadratic time.
 */
export function findIllFormedString(value: unknown): IllFormedString | undefined {
  const stack: Visit[] = [{ value, key: undefined, parent: undefined }];
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    const current = visit.value;
    if (typeof current === 'string') {
      if (loneSurrogateAt(current) >= 0) return { path: pathOf(visit), inKey: false };
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], key: i, parent: visit });
    } else if (current !== null && typeof current === 'object') {
      const keys = Object.keys(current);
      if (keys.some((key) => loneSurrogateAt(key) >= 0)) return { path: pathOf(visit), inKey: true };
      for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: (current as Record<string, unknown>)[keys[i]], key: keys[i], parent: visit });
    }
  }
  return undefined;
}
