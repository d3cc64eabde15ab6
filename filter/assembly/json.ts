/**
 * A small, strict JSON reader for the plugin configuration.
 *
 * NOTE: json-as (1.6) traps on malformed input and loses the path of the bad
 * field, so a configuration error would kill the VM instead of producing a
 * clear message. This reader returns errors as data (with the byte offset);
 * `config.ts` adds field paths. It is used once per configuration, never on
 * the request path.
 */

/** Kinds of JSON value. */
export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

/** A parsed JSON value. Immutable after parsing. */
export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = '';
  items: JsonValue[] = [];
  keys: string[] = [];

  /** The member named `key` of an object, or null. */
  get(key: string): JsonValue | null {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] === key) return this.items[i];
    }
    return null;
  }
}

/** The outcome of {@link parseJson}: a value, or an error message. */
export class JsonResult {
  value: JsonValue | null = null;
  error: string = '';
}

class Cursor {
  pos: i32 = 0;
  error: string = '';
  constructor(public text: string) {}
}

const MAX_DEPTH = 32;

/** Parses one JSON document (RFC 8259); trailing garbage is an error. */
export function parseJson(text: string): JsonResult {
  const c = new Cursor(text);
  const result = new JsonResult();
  skipWs(c);
  const v = parseValue(c, 0);
  if (v !== null) {
    skipWs(c);
    if (c.pos < text.length) fail(c, 'unexpected trailing characters');
  }
  if (c.error.length > 0) {
    result.error = c.error;
    return result;
  }
  result.value = v;
  return result;
}

function fail(c: Cursor, message: string): void {
  if (c.error.length === 0) c.error = message + ' at offset ' + c.pos.toString();
}

function skipWs(c: Cursor): void {
  while (c.pos < c.text.length) {
    const ch = c.text.charCodeAt(c.pos);
    if (ch !== 0x20 && ch !== 0x09 && ch !== 0x0a && ch !== 0x0d) return;
    c.pos++;
  }
}

function parseValue(c: Cursor, depth: i32): JsonValue | null {
  if (depth > MAX_DEPTH) {
    fail(c, 'nesting too deep');
    return null;
  }
  if (c.pos >= c.text.length) {
    fail(c, 'unexpected end of input');
    return null;
  }
  const ch = c.text.charCodeAt(c.pos);
  if (ch === 0x7b) return parseObject(c, depth);
  if (ch === 0x5b) return parseArray(c, depth);
  if (ch === 0x22) {
    const s = parseString(c);
    if (s === null) return null;
    const v = new JsonValue();
    v.kind = JsonKind.String;
    v.str = s;
    return v;
  }
  if (ch === 0x2d || (ch >= 0x30 && ch <= 0x39)) return parseNumber(c);
  if (matchWord(c, 'true')) return boolValue(true);
  if (matchWord(c, 'false')) return boolValue(false);
  if (matchWord(c, 'null')) return new JsonValue();
  fail(c, 'unexpected character');
  return null;
}

function boolValue(b: bool): JsonValue {
  const v = new JsonValue();
  v.kind = JsonKind.Bool;
  v.bool = b;
  return v;
}

function matchWord(c: Cursor, word: string): bool {
  if (c.text.substr(c.pos, word.length) !== word) return false;
  c.pos += word.length;
  return true;
}

function parseObject(c: Cursor, depth: i32): JsonValue | null {
  const v = new JsonValue();
  v.kind = JsonKind.Object;
  c.pos++;
  skipWs(c);
  if (c.pos < c.text.length && c.text.charCodeAt(c.pos) === 0x7d) {
    c.pos++;
    return v;
  }
  while (true) {
    skipWs(c);
    if (c.pos >= c.text.length || c.text.charCodeAt(c.pos) !== 0x22) {
      fail(c, 'expected a member name');
      return null;
    }
    const key = parseString(c);
    if (key === null) return null;
    skipWs(c);
    if (c.pos >= c.text.length || c.text.charCodeAt(c.pos) !== 0x3a) {
      fail(c, "expected ':'");
      return null;
    }
    c.pos++;
    skipWs(c);
    const item = parseValue(c, depth + 1);
    if (item === null) return null;
    if (v.get(key) !== null) {
      fail(c, 'duplicate member "' + key + '"');
      return null;
    }
    v.keys.push(key);
    v.items.push(item);
    skipWs(c);
    if (c.pos >= c.text.length) {
      fail(c, 'unexpected end of input');
      return null;
    }
    const ch = c.text.charCodeAt(c.pos);
    c.pos++;
    if (ch === 0x7d) return v;
    if (ch !== 0x2c) {
      c.pos--;
      fail(c, "expected ',' or '}'");
      return null;
    }
  }
}

function parseArray(c: Cursor, depth: i32): JsonValue | null {
  const v = new JsonValue();
  v.kind = JsonKind.Array;
  c.pos++;
  skipWs(c);
  if (c.pos < c.text.length && c.text.charCodeAt(c.pos) === 0x5d) {
    c.pos++;
    return v;
  }
  while (true) {
    skipWs(c);
    const item = parseValue(c, depth + 1);
    if (item === null) return null;
    v.items.push(item);
    skipWs(c);
    if (c.pos >= c.text.length) {
      fail(c, 'unexpected end of input');
      return null;
    }
    const ch = c.text.charCodeAt(c.pos);
    c.pos++;
    if (ch === 0x5d) return v;
    if (ch !== 0x2c) {
      c.pos--;
      fail(c, "expected ',' or ']'");
      return null;
    }
  }
}

function hexDigit(ch: i32): i32 {
  if (ch >= 0x30 && ch <= 0x39) return ch - 0x30;
  if (ch >= 0x61 && ch <= 0x66) return ch - 0x61 + 10;
  if (ch >= 0x41 && ch <= 0x46) return ch - 0x41 + 10;
  return -1;
}

function parseString(c: Cursor): string | null {
  c.pos++; // opening quote
  let out = '';
  let runStart = c.pos;
  while (c.pos < c.text.length) {
    const ch = c.text.charCodeAt(c.pos);
    if (ch === 0x22) {
      out += c.text.substring(runStart, c.pos);
      c.pos++;
      return out;
    }
    if (ch < 0x20) {
      fail(c, 'control character in string');
      return null;
    }
    if (ch !== 0x5c) {
      c.pos++;
      continue;
    }
    out += c.text.substring(runStart, c.pos);
    c.pos++;
    if (c.pos >= c.text.length) break;
    const esc = c.text.charCodeAt(c.pos);
    c.pos++;
    if (esc === 0x22) out += '"';
    else if (esc === 0x5c) out += '\\';
    else if (esc === 0x2f) out += '/';
    else if (esc === 0x62) out += '\b';
    else if (esc === 0x66) out += '\f';
    else if (esc === 0x6e) out += '\n';
    else if (esc === 0x72) out += '\r';
    else if (esc === 0x74) out += '\t';
    else if (esc === 0x75) {
      let code = 0;
      for (let i = 0; i < 4; i++) {
        const d = c.pos < c.text.length ? hexDigit(c.text.charCodeAt(c.pos)) : -1;
        if (d < 0) {
          fail(c, 'bad \\u escape');
          return null;
        }
        code = code * 16 + d;
        c.pos++;
      }
      out += String.fromCharCode(code);
    } else {
      c.pos--;
      fail(c, 'bad escape');
      return null;
    }
    runStart = c.pos;
  }
  fail(c, 'unterminated string');
  return null;
}

function isDigit(ch: i32): bool {
  return ch >= 0x30 && ch <= 0x39;
}

function parseNumber(c: Cursor): JsonValue | null {
  const start = c.pos;
  const t = c.text;
  if (t.charCodeAt(c.pos) === 0x2d) c.pos++;
  if (c.pos >= t.length || !isDigit(t.charCodeAt(c.pos))) {
    fail(c, 'bad number');
    return null;
  }
  if (t.charCodeAt(c.pos) === 0x30) c.pos++;
  else while (c.pos < t.length && isDigit(t.charCodeAt(c.pos))) c.pos++;
  if (c.pos < t.length && t.charCodeAt(c.pos) === 0x2e) {
    c.pos++;
    if (c.pos >= t.length || !isDigit(t.charCodeAt(c.pos))) {
      fail(c, 'bad number');
      return null;
    }
    while (c.pos < t.length && isDigit(t.charCodeAt(c.pos))) c.pos++;
  }
  if (c.pos < t.length && (t.charCodeAt(c.pos) === 0x65 || t.charCodeAt(c.pos) === 0x45)) {
    c.pos++;
    if (c.pos < t.length && (t.charCodeAt(c.pos) === 0x2b || t.charCodeAt(c.pos) === 0x2d)) c.pos++;
    if (c.pos >= t.length || !isDigit(t.charCodeAt(c.pos))) {
      fail(c, 'bad number');
      return null;
    }
    while (c.pos < t.length && isDigit(t.charCodeAt(c.pos))) c.pos++;
  }
  const v = new JsonValue();
  v.kind = JsonKind.Number;
  v.num = parseFloat(t.substring(start, c.pos));
  return v;
}
