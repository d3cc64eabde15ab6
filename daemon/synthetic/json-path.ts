/**
 * A small, strict subset of JSONPath (RFC 9535) for journeys: one value,
 * reached from the root `$` by member names and array indices only.
 *
 *   $                 the whole document
 *   $.order.id        member `order`, then its member `id` (names: letters, digits, `_`, `-`)
 *   $['order id']     a member whose name needs quoting (single quotes; `\'` and `\\` inside)
 *   $.items[0].sku    the first element of `items`, then its member `sku`
 *
 * Nothing else: no wildcards, slices, negative indices, filters or recursive
 * descent, so a path names at most one value and never surprises. A path
 * outside the subset is refused at config check with what is wrong.
 */

/** One step down: a member name or an array index. */
export type PathSegment = { name: string } | { index: number };

export interface JsonPath {
  text: string;
  segments: PathSegment[];
}

const DOT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*/;
const INDEX = /^(0|[1-9][0-9]{0,8})\]/;

/** Parses `text`; an error message (without a path) when it is outside the subset. */
export function parseJsonPath(text: string): JsonPath | { error: string } {
  if (!text.startsWith('$')) return { error: `a JSON path starts with '$' (got ${JSON.stringify(text)})` };
  const segments: PathSegment[] = [];
  let at = 1;
  while (at < text.length) {
    const rest = text.slice(at);
    if (rest.startsWith('.')) {
      const m = DOT_NAME.exec(rest.slice(1));
      if (!m) return { error: `expected a member name after '.' at character ${at + 1} of ${text}` };
      segments.push({ name: m[0] });
      at += 1 + m[0].length;
    } else if (rest.startsWith("['")) {
      const quoted = readQuoted(rest, 2);
      if (!quoted) return { error: `unclosed ['…'] at character ${at + 1} of ${text}` };
      segments.push({ name: quoted.value });
      at += quoted.end;
    } else if (rest.startsWith('[')) {
      const m = INDEX.exec(rest.slice(1));
      if (!m) {
        return {
          error: `expected an array index [0], [1], … or ['name'] at character ${at + 1} of ${text} (wildcards, slices and filters are not supported)`,
        };
      }
      segments.push({ index: Number(m[1]) });
      at += 1 + m[0].length;
    } else {
      return { error: `unexpected ${JSON.stringify(rest[0])} at character ${at + 1} of ${text}` };
    }
  }
  return { text, segments };
}

/** Reads `'…']` from `from` (just after the opening quote); the value and where the `]` ends. */
function readQuoted(s: string, from: number): { value: string; end: number } | undefined {
  let value = '';
  for (let i = from; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const next = s[i + 1];
      if (next !== "'" && next !== '\\') return undefined;
      value += next;
      i++;
    } else if (c === "'") {
      return s[i + 1] === ']' ? { value, end: i + 2 } : undefined;
    } else value += c;
  }
  return undefined;
}

/** The value the path names in `doc`, or undefined when there is none (a missing member, an index past the end). */
export function readJsonPath(path: JsonPath, doc: unknown): unknown {
  let v: unknown = doc;
  for (const seg of path.segments) {
    if ('index' in seg) {
      if (!Array.isArray(v) || seg.index >= v.length) return undefined;
      v = v[seg.index];
    } else {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, seg.name)) {
        return undefined;
      }
      v = (v as Record<string, unknown>)[seg.name];
    }
  }
  return v;
}
