/**
 * 64-bit FNV-1a, usable chunk by chunk: start from {@link FNV_OFFSET} and feed
 * each chunk's bytes in order; the result equals hashing the concatenation.
 */

/** FNV-1a 64-bit offset basis (the hash of zero bytes). */
export const FNV_OFFSET: u64 = ((<u64>0xcbf29ce4) << 32) | 0x84222325;
const FNV_PRIME: u64 = 0x100000001b3;

/** Continues `hash` over `size` bytes at `ptr`. */
export function fnvUpdate(hash: u64, ptr: usize, size: usize): u64 {
  let h = hash;
  const end = ptr + size;
  for (let p = ptr; p < end; p++) {
    h = (h ^ <u64>load<u8>(p)) * FNV_PRIME;
  }
  return h;
}

/** FNV-1a of a whole buffer. */
export function fnvBytes(buf: ArrayBuffer): u64 {
  return fnvUpdate(FNV_OFFSET, changetype<usize>(buf), <usize>buf.byteLength);
}

/** FNV-1a of a string's UTF-8 bytes. */
export function fnvString(s: string): u64 {
  return fnvBytes(String.UTF8.encode(s));
}
