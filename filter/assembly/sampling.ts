/**
 * Pure mirroring policy: which requests may be mirrored and how a request is
 * sampled under each strategy. No host calls; unit-tested in Node.
 */
import { FNV_OFFSET, fnvUpdate } from './fnv';

/** Points on the consistent-hash circle: percentages keep 4 decimals. */
const POINTS: u64 = 1000000;

/**
 * Where a segment key falls on [0, 100): the same key gives the same point on
 * every Envoy and worker, so raising the percentage only adds users.
 */
export function segmentPoint(keyPtr: usize, keySize: usize): f64 {
  return pointOf(fnvUpdate(FNV_OFFSET, keyPtr, keySize));
}

/** The point on [0, 100) of a key's FNV-1a 64 hash (see {@link segmentPoint}). */
export function pointOf(h: u64): f64 {
  return (<f64>(h % POINTS) * 100.0) / <f64>POINTS;
}

/** The bucket reported as the segment for a key (uses other bits than the point). */
export function segmentBucket(keyPtr: usize, keySize: usize, buckets: u32): u32 {
  const h = fnvUpdate(FNV_OFFSET, keyPtr, keySize);
  return <u32>((h >> 32) % <u64>buckets);
}

/** Whether `value` (bytes) equals `s` (ASCII), ignoring ASCII case. */
export function equalsIgnoreCase(ptr: usize, size: usize, s: string): bool {
  if (<i32>size !== s.length) return false;
  for (let i = 0; i < <i32>size; i++) {
    let a = <i32>load<u8>(ptr + i);
    let b = s.charCodeAt(i);
    if (a >= 0x41 && a <= 0x5a) a += 32;
    if (b >= 0x41 && b <= 0x5a) b += 32;
    if (a !== b) return false;
  }
  return true;
}

/** Whether the bytes start with ASCII `prefix`. */
export function startsWith(ptr: usize, size: usize, prefix: string): bool {
  if (<i32>size < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (<i32>load<u8>(ptr + i) !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/** Length of the path part of a request target (before `?` or `#`). */
export function pathLength(ptr: usize, size: usize): usize {
  for (let i: usize = 0; i < size; i++) {
    const c = load<u8>(ptr + i);
    if (c === 0x3f || c === 0x23) return i;
  }
  return size;
}

/**
 * Path policy: allowed when it matches an include prefix (or there are
 * none) and no exclude prefix. Query strings are ignored.
 */
export function pathAllowed(ptr: usize, size: usize, include: string[], exclude: string[]): bool {
  const n = pathLength(ptr, size);
  if (include.length > 0) {
    let hit = false;
    for (let i = 0; i < include.length && !hit; i++) hit = startsWith(ptr, n, include[i]);
    if (!hit) return false;
  }
  for (let i = 0; i < exclude.length; i++) {
    if (startsWith(ptr, n, exclude[i])) return false;
  }
  return true;
}

/** Method policy: exact match against the allowlist (methods are case-sensitive). */
export function methodAllowed(ptr: usize, size: usize, methods: string[]): bool {
  for (let i = 0; i < methods.length; i++) {
    const m = methods[i];
    if (m.length !== <i32>size) continue;
    let same = true;
    for (let j = 0; j < m.length && same; j++) same = <i32>load<u8>(ptr + j) === m.charCodeAt(j);
    if (same) return true;
  }
  return false;
}

/** Index of the region the header value names (case-insensitive), or -1. */
export function regionIndex(ptr: usize, size: usize, regions: string[]): i32 {
  for (let i = 0; i < regions.length; i++) {
    if (equalsIgnoreCase(ptr, size, regions[i])) return i;
  }
  return -1;
}

/**
 * Finds cookie `name` in a Cookie header; answers its value's offset and
 * length packed as (offset << 32 | length), or -1 when absent or empty.
 */
export function findCookie(ptr: usize, size: usize, name: string): i64 {
  let i: usize = 0;
  while (i < size) {
    while (i < size && (load<u8>(ptr + i) === 0x20 || load<u8>(ptr + i) === 0x3b)) i++;
    const start = i;
    while (i < size && load<u8>(ptr + i) !== 0x3d && load<u8>(ptr + i) !== 0x3b) i++;
    const nameLen = i - start;
    let valueStart = i;
    let valueEnd = i;
    if (i < size && load<u8>(ptr + i) === 0x3d) {
      valueStart = i + 1;
      valueEnd = valueStart;
      while (valueEnd < size && load<u8>(ptr + valueEnd) !== 0x3b) valueEnd++;
      i = valueEnd;
    }
    let trimmed = nameLen;
    while (trimmed > 0 && load<u8>(ptr + start + trimmed - 1) === 0x20) trimmed--;
    if (<i32>trimmed === name.length && startsWith(ptr + start, trimmed, name) && valueEnd > valueStart) {
      return ((<i64>valueStart) << 32) | <i64>(valueEnd - valueStart);
    }
  }
  return -1;
}

function isIdSegment(ptr: usize, size: usize): bool {
  if (size === 0) return false;
  let digits = true;
  let hex = true;
  let dashes = 0;
  for (let i: usize = 0; i < size; i++) {
    const c = load<u8>(ptr + i);
    const isDigit = c >= 0x30 && c <= 0x39;
    const isHex = isDigit || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
    if (c === 0x2d) dashes++;
    else {
      if (!isDigit) digits = false;
      if (!isHex) hex = false;
    }
  }
  if (digits && dashes === 0) return true;
  return hex && size >= 8;
}

/** Longest normalised endpoint name. */
const MAX_ENDPOINT = 96;

/**
 * The endpoint name used when a route has no name: the path without its
 * query, with id-like segments (numbers, hex or UUIDs of 8+ characters)
 * replaced by `:id`, cut to 96 characters.
 */
export function normalisePath(ptr: usize, size: usize): string {
  const n = pathLength(ptr, size);
  let out = '';
  let i: usize = 0;
  while (i < n && out.length < MAX_ENDPOINT) {
    if (load<u8>(ptr + i) === 0x2f) {
      out += '/';
      i++;
      continue;
    }
    const start = i;
    while (i < n && load<u8>(ptr + i) !== 0x2f) i++;
    out += isIdSegment(ptr + start, i - start) ? ':id' : String.UTF8.decodeUnsafe(ptr + start, i - start);
  }
  if (out.length === 0) out = '/';
  return out.length > MAX_ENDPOINT ? out.substring(0, MAX_ENDPOINT) : out;
}

/** The 32 bits of a user's hash a record carries (never 0, which means "no user"). */
export function userId(h: u64): u32 {
  const id = <u32>(h ^ (h >> 32));
  return id === 0 ? 1 : id;
}

/** Whether a user hash falls in B's share. */
export function inB(h: u64, percentage: f64): bool {
  return percentage > 0 && pointOf(h) >= 100.0 - percentage;
}

/** Largest outcome a record holds, in thousandths (u32). */
const MAX_MILLI: i64 = 0xffffffff;

/** `12`, `0.5`, `3.125` → thousandths (digits past the third decimal dropped); -1 when malformed. */
export function parseMilli(ptr: usize, size: usize): i64 {
  let v: i64 = 0;
  let decimals = -1;
  let digits = 0;
  for (let i: usize = 0; i < size; i++) {
    const ch = <i32>load<u8>(ptr + i);
    if (ch === 0x2e && decimals < 0) {
      decimals = 0;
      continue;
    }
    if (ch < 0x30 || ch > 0x39) return -1;
    digits++;
    if (decimals >= 3) continue;
    if (decimals >= 0) decimals++;
    v = v * 10 + <i64>(ch - 0x30);
    if (v > MAX_MILLI) return MAX_MILLI;
  }
  if (digits === 0) return -1;
  if (decimals < 0) decimals = 0;
  for (let d = decimals; d < 3; d++) v *= 10;
  return v > MAX_MILLI ? MAX_MILLI : v;
}
