// Limits on the JSON a caller sends, checked right after parsing and before anything walks the value.
// JSON.parse itself is iterative in V8, but JSON.stringify, the event codec, canonical MessagePack and
// our own copies (withoutSecrets, sortKeys) recurse: a body nested 100,000 levels deep would end in
// "Maximum call stack size exceeded" somewhere inside. Used by Emit, the member's other routes and
// the node agent.

/** Deeper than any request of the API (envelope → paras → rb_nodes[] → item → value is 5). */
export const MAX_JSON_DEPTH = 32;

const MAX_KEY_SHOWN = 40;
const MAX_PATH_SHOWN = 160;

/**
 * The path of the first value nested deeper than `max` (the root object is depth 1), e.g.
 * `paras.ha_mode[0][0]…`, or null when the value is within the limit. Iterative: it cannot overflow.
 */
export function tooDeepAt(root: unknown, max = MAX_JSON_DEPTH, rootPath = ''): string | null {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: root, depth: 1, path: rootPath }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return shorten(path === '' ? '(the body)' : path);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i] as unknown, depth: depth + 1, path: `${path}[${i}]` });
    } else {
      for (const k of Object.keys(v).reverse()) {
        const key = k.length > MAX_KEY_SHOWN ? `${k.slice(0, MAX_KEY_SHOWN)}…` : k;
        stack.push({ v: (v as Record<string, unknown>)[k], depth: depth + 1, path: path === '' ? key : `${path}.${key}` });
      }
    }
  }
  return null;
}

function shorten(path: string): string {
  const printable = [...path].map((c) => (c.charCodeAt(0) < 0x20 ? '?' : c)).join('');
  return printable.length > MAX_PATH_SHOWN ? `${printable.slice(0, MAX_PATH_SHOWN)}…` : printable;
}

/** The refusal text for a value nested too deep at `path`. */
export function tooDeepReason(path: string, max = MAX_JSON_DEPTH): string {
  return `${path}: JSON nested deeper than ${max} levels`;
}

/**
 * Sets `out[key]` as an own data property: plain assignment of `__proto__` would replace the
 * object's prototype instead of copying the key (a request may carry any key).
 */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
