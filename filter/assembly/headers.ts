/**
 * Header maps in the proxy-wasm serialized form (spec v0.2.1, "Serialization"):
 * u32 count, then u32 key/value sizes per pair, then `key\0value\0` per pair,
 * little-endian. Pure; used to build the mirrored copy's headers.
 */

/** Headers never copied to the mirror: hop-by-hop, or set by Envoy for the call. */
const HOP_BY_HOP: string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'upgrade',
  'content-length',
];

/** The mirror marker header. */
export const SHADOW_HEADER = 'x-umbra-shadow';
/** The request id header (Envoy generates one unless told not to). */
export const REQUEST_ID_HEADER = 'x-request-id';

function keyIs(ptr: usize, size: u32, name: string): bool {
  if (<i32>size !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    if (<i32>load<u8>(ptr + i) !== name.charCodeAt(i)) return false;
  }
  return true;
}

const MAX_NAME = 64;

/**
 * A set of lower-case header names, bucketed by length, so a lookup is one
 * bucket and a byte comparison or two (no string walks per header). Names
 * longer than 64 bytes share the last bucket.
 */
export class HeaderSet {
  private byLength: Array<ArrayBuffer[]> = new Array<ArrayBuffer[]>(MAX_NAME + 2);

  constructor(names: string[]) {
    for (let i = 0; i <= MAX_NAME + 1; i++) this.byLength[i] = [];
    for (let i = 0; i < names.length; i++) {
      const b = String.UTF8.encode(names[i]);
      if (b.byteLength > 0) this.byLength[min<i32>(b.byteLength, MAX_NAME + 1)].push(b);
    }
  }

  has(ptr: usize, size: u32): bool {
    if (size === 0) return false;
    const bucket = this.byLength[<i32>min<u32>(size, MAX_NAME + 1)];
    for (let i = 0; i < bucket.length; i++) {
      const name = bucket[i];
      if (<u32>name.byteLength === size && memory.compare(ptr, changetype<usize>(name), size) === 0)
        return true;
    }
    return false;
  }
}

/**
 * The headers a mirrored copy never carries: `strip` (lower case), the
 * hop-by-hop ones, and any incoming `x-umbra-shadow` and `x-request-id`
 * (both are set afresh). Built once per configuration.
 */
export function shadowDropSet(strip: string[]): HeaderSet {
  const names = HOP_BY_HOP.concat(strip);
  names.push(SHADOW_HEADER);
  names.push(REQUEST_ID_HEADER);
  return new HeaderSet(names);
}

const SHADOW_KEY = String.UTF8.encode(SHADOW_HEADER);
const REQUEST_ID_KEY = String.UTF8.encode(REQUEST_ID_HEADER);
const ONE = String.UTF8.encode('1');
// Which pairs are kept, decided once per pair (requests rarely have more).
const KEPT_MAX: u32 = 256;
const kept = new StaticArray<u8>(KEPT_MAX);

/** Whether a kept key is one a callout needs (`:method`, `:path`, `:authority`). */
function isRequired(ptr: usize, size: u32): bool {
  if (size < 5 || load<u8>(ptr) !== 0x3a) return false;
  return keyIs(ptr, size, ':method') || keyIs(ptr, size, ':path') || keyIs(ptr, size, ':authority');
}

/**
 * Builds the mirrored copy's headers from the request's serialized pairs:
 * drops the headers in `drop` (see {@link shadowDropSet}), then adds
 * `x-umbra-shadow: 1` and `x-request-id: <the idSize bytes at idPtr>`.
 * Answers null when `pairs` is malformed or lacks `:method`, `:path` or
 * `:authority` (Envoy refuses such a callout).
 */
export function buildShadowHeaders(
  pairs: ArrayBuffer,
  drop: HeaderSet,
  idPtr: usize,
  idSize: u32,
): ArrayBuffer | null {
  const base = changetype<usize>(pairs);
  const total = <u32>pairs.byteLength;
  if (total < 4) return null;
  const count = load<u32>(base);
  if (count > 10000 || count * 8 + 4 > total) return null;
  // First pass: validate sizes, decide and measure what is kept.
  let data = base + 4 + count * 8;
  const end = base + total;
  let keptCount: u32 = 0;
  let keptBytes: usize = 0;
  let required = 0;
  for (let i: u32 = 0; i < count; i++) {
    const ks = load<u32>(base + 4 + i * 8);
    const vs = load<u32>(base + 8 + i * 8);
    if (data + ks + vs + 2 > end) return null;
    const keep = !drop.has(data, ks);
    if (i < KEPT_MAX) unchecked((kept[i] = keep ? 1 : 0));
    if (keep) {
      keptCount++;
      keptBytes += ks + vs + 2;
      if (isRequired(data, ks)) required++;
    }
    data += ks + vs + 2;
  }
  if (required < 3) return null;
  const outCount = keptCount + 2;
  const outSize: usize =
    <usize>(outCount * 8 + 4) +
    keptBytes +
    <usize>(SHADOW_KEY.byteLength + 3) +
    <usize>(REQUEST_ID_KEY.byteLength + 2) +
    <usize>idSize;
  const out = new ArrayBuffer(<i32>outSize);
  const o = changetype<usize>(out);
  store<u32>(o, outCount);
  let sizes = o + 4;
  let dst = o + 4 + outCount * 8;
  data = base + 4 + count * 8;
  for (let i: u32 = 0; i < count; i++) {
    const ks = load<u32>(base + 4 + i * 8);
    const vs = load<u32>(base + 8 + i * 8);
    const keep = i < KEPT_MAX ? unchecked(kept[i]) !== 0 : !drop.has(data, ks);
    if (keep) {
      store<u32>(sizes, ks);
      store<u32>(sizes + 4, vs);
      sizes += 8;
      memory.copy(dst, data, ks + vs + 2);
      dst += ks + vs + 2;
    }
    data += ks + vs + 2;
  }
  dst = putPair(sizes, dst, SHADOW_KEY, changetype<usize>(ONE), 1);
  putPair(sizes + 8, dst, REQUEST_ID_KEY, idPtr, idSize);
  return out;
}

function putPair(sizeAt: usize, dst: usize, key: ArrayBuffer, valuePtr: usize, valueSize: u32): usize {
  const ks = <u32>key.byteLength;
  store<u32>(sizeAt, ks);
  store<u32>(sizeAt + 4, valueSize);
  memory.copy(dst, changetype<usize>(key), ks);
  store<u8>(dst + ks, 0);
  memory.copy(dst + ks + 1, valuePtr, valueSize);
  store<u8>(dst + ks + 1 + valueSize, 0);
  return dst + ks + valueSize + 2;
}

/** Serializes pairs (test helper and fallback): keys[i] → values[i]. */
export function serializePairs(keys: string[], values: string[]): ArrayBuffer {
  let size: usize = 4 + <usize>keys.length * 8;
  const ks: ArrayBuffer[] = [];
  const vs: ArrayBuffer[] = [];
  for (let i = 0; i < keys.length; i++) {
    ks.push(String.UTF8.encode(keys[i]));
    vs.push(String.UTF8.encode(values[i]));
    size += <usize>ks[i].byteLength + <usize>vs[i].byteLength + 2;
  }
  const out = new ArrayBuffer(<i32>size);
  const o = changetype<usize>(out);
  store<u32>(o, keys.length);
  let dst = o + 4 + <usize>keys.length * 8;
  for (let i = 0; i < keys.length; i++) {
    const kl = <u32>ks[i].byteLength;
    const vl = <u32>vs[i].byteLength;
    store<u32>(o + 4 + i * 8, kl);
    store<u32>(o + 8 + i * 8, vl);
    memory.copy(dst, changetype<usize>(ks[i]), kl);
    store<u8>(dst + kl, 0);
    memory.copy(dst + kl + 1, changetype<usize>(vs[i]), vl);
    store<u8>(dst + kl + 1 + vl, 0);
    dst += kl + vl + 2;
  }
  return out;
}

/** Reads the value of `name` from serialized pairs as a string, or null. */
export function findPair(pairs: ArrayBuffer, name: string): string | null {
  const base = changetype<usize>(pairs);
  if (pairs.byteLength < 4) return null;
  const count = load<u32>(base);
  if (count * 8 + 4 > <u32>pairs.byteLength) return null;
  let data = base + 4 + count * 8;
  for (let i: u32 = 0; i < count; i++) {
    const ks = load<u32>(base + 4 + i * 8);
    const vs = load<u32>(base + 8 + i * 8);
    if (data + ks + vs + 2 > base + pairs.byteLength) return null;
    if (keyIs(data, ks, name)) return String.UTF8.decodeUnsafe(data + ks + 1, vs);
    data += ks + vs + 2;
  }
  return null;
}

/**
 * Where header `name` (lower case) is in serialized pairs: its value's offset
 * from the buffer start and length packed as (offset << 32 | length), or -1.
 * The first occurrence wins (as Envoy's proxy_get_header_map_value answers).
 */
export function pairOffset(pairs: ArrayBuffer, name: string): i64 {
  const base = changetype<usize>(pairs);
  const total = <u32>pairs.byteLength;
  if (total < 4) return -1;
  const count = load<u32>(base);
  if (count > 10000 || count * 8 + 4 > total) return -1;
  let data = base + 4 + count * 8;
  const end = base + total;
  for (let i: u32 = 0; i < count; i++) {
    const ks = load<u32>(base + 4 + i * 8);
    const vs = load<u32>(base + 8 + i * 8);
    if (data + ks + vs + 2 > end) return -1;
    if (keyIs(data, ks, name)) return ((<i64>(data + ks + 1 - base)) << 32) | <i64>vs;
    data += ks + vs + 2;
  }
  return -1;
}
