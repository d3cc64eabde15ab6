/**
 * Request ids: the record carries 16 raw bytes for a UUID (the usual
 * `x-request-id` Envoy generates), else the id's bytes truncated to 64
 * (telemetry.proto, Record.request_id). A missing or malformed id is replaced
 * by a generated UUID v4 so the mirrored copy and its record still pair.
 */

/** Longest id kept as text. */
export const MAX_ID_BYTES = 64;
/** Longer header values are treated as malformed. */
const MAX_HEADER_ID = 128;

function hexValue(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  if (c >= 0x61 && c <= 0x66) return <i32>c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return <i32>c - 0x41 + 10;
  return -1;
}

/** Whether a header value can serve as a request id (printable ASCII, 1..128 bytes). */
export function isUsableId(id: ArrayBuffer): bool {
  return isUsableIdAt(changetype<usize>(id), <u32>id.byteLength);
}

/** {@link isUsableId} for `n` bytes at `p`. */
export function isUsableIdAt(p: usize, n: u32): bool {
  if (n === 0 || n > <u32>MAX_HEADER_ID) return false;
  for (let i: u32 = 0; i < n; i++) {
    const c = load<u8>(p + i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** The record form of an id: 16 bytes for a canonical UUID, else its first 64 bytes. */
export function idBytes(id: ArrayBuffer): Uint8Array {
  return idBytesAt(changetype<usize>(id), <u32>id.byteLength);
}

/** {@link idBytes} for `size` bytes at `p`. */
export function idBytesAt(p: usize, size: u32): Uint8Array {
  if (size === 36) {
    const out = new Uint8Array(16);
    let j = 0;
    let ok = true;
    for (let i = 0; i < 36 && ok; ) {
      if (i === 8 || i === 13 || i === 18 || i === 23) {
        ok = load<u8>(p + i) === 0x2d;
        i++;
        continue;
      }
      const hi = hexValue(load<u8>(p + i));
      const lo = hexValue(load<u8>(p + i + 1));
      if (hi < 0 || lo < 0) ok = false;
      else out[j++] = <u8>((hi << 4) | lo);
      i += 2;
    }
    if (ok && j === 16) return out;
  }
  const n = min<i32>(<i32>size, MAX_ID_BYTES);
  const out = new Uint8Array(n);
  memory.copy(out.dataStart, p, n);
  return out;
}

const HEX = '0123456789abcdef';

/** Formats 16 bytes (made a version-4 UUID in place) as canonical UUID text. */
export function uuidV4(random: Uint8Array): ArrayBuffer {
  random[6] = (random[6] & 0x0f) | 0x40;
  random[8] = (random[8] & 0x3f) | 0x80;
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    const b = <i32>random[i];
    s += HEX.charAt(b >> 4) + HEX.charAt(b & 15);
  }
  return String.UTF8.encode(s);
}
