// @ts-nocheck -- AssemblyScript (built by scripts/build-records-wasm.mjs into
// daemon/telemetry/generated/records-wasm.ts), not TypeScript for Node.
/**
 * The batch decoder's fast path for records, in WebAssembly: the same
 * straight-line reading as `readRecord` in decode.ts (fields in ascending
 * order, one-byte tags, varints of at most 4 bytes, the same request-id hash),
 * writing columns in linear memory. It decodes consecutive `records` fields
 * of a Batch and stops at anything else — another field, or a record of any
 * other shape — leaving that to the JavaScript decoder, which also reports
 * every error. So it never changes what a batch decodes to, only how fast.
 *
 * Memory: the batch bytes at 0 (up to IN_CAP), columns from COL, one entry
 * per record index (up to MAXR records).
 */
/** Bytes of input room (batches beyond it are decoded in JavaScript). */
export const IN_CAP: u32 = 8 << 20;
const COL: u32 = IN_CAP;
/** Records the columns hold. */
export const MAXR: u32 = 65536;
export const C_IDOFF: u32 = COL;
export const C_IDLEN: u32 = C_IDOFF + MAXR * 4;
export const C_H1: u32 = C_IDLEN + MAXR * 4;
export const C_H2: u32 = C_H1 + MAXR * 4;
export const C_ARM: u32 = C_H2 + MAXR * 4;
export const C_EP: u32 = C_ARM + MAXR;
export const C_SEG: u32 = C_EP + MAXR * 4;
export const C_START: u32 = C_SEG + MAXR * 4;
export const C_LAT: u32 = C_START + MAXR * 8;
export const C_STATUS: u32 = C_LAT + MAXR * 4;
export const C_FLAGS: u32 = C_STATUS + MAXR * 4;
export const C_BYTES: u32 = C_FLAGS + MAXR * 4;
export const C_HLO: u32 = C_BYTES + MAXR * 8;
export const C_HHI: u32 = C_HLO + MAXR * 4;
export const C_CLUSTER: u32 = C_HHI + MAXR * 4;
export const C_USER: u32 = C_CLUSTER + MAXR * 4;
export const C_OUTCOME: u32 = C_USER + MAXR * 4;

/** Where `run` stopped, and the record count then. */
export let outPos: u32 = 0;
export let outCount: u32 = 0;

// A class only so the helpers can be marked @inline (TypeScript allows decorators on methods only).
// biome-ignore lint/complexity/noStaticOnlyClass: AssemblyScript inlines only what @inline marks here.
class Read {
  @inline static fmix(h: u32): u32 {
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    return h ^ (h >>> 16);
  }

  // Short varint (< 2^28, <= 4 bytes) at p before stop: value << 3 | len, or -1.
  @inline static sv(p: u32, stop: u32): i32 {
    if (p + 4 <= stop) {
      let c = <u32>load<u8>(p);
      if (c < 0x80) return <i32>((c << 3) | 1);
      let v = c & 0x7f;
      c = load<u8>(p + 1);
      v |= (c & 0x7f) << 7;
      if (c < 0x80) return <i32>((v << 3) | 2);
      c = load<u8>(p + 2);
      v |= (c & 0x7f) << 14;
      if (c < 0x80) return <i32>((v << 3) | 3);
      c = load<u8>(p + 3);
      if (c >= 0x80) return -1;
      return <i32>(((v | (c << 21)) << 3) | 4);
    }
    let v: u32 = 0;
    for (let k: u32 = 0; k < 4 && p + k < stop; k++) {
      const c = <u32>load<u8>(p + k);
      v |= (c & 0x7f) << (7 * k);
      if (c < 0x80) return <i32>((v << 3) | (k + 1));
    }
    return -1;
  }
}

/**
 * Decodes consecutive Batch.records fields from `pos` (before `end`) into
 * column index `count` onwards, at most up to `maxRecords`; stops at anything
 * else. Results in outPos and outCount.
 */
export function run(pos: u32, end: u32, count: u32, maxId: u32, maxRecords: u32): void {
  while (pos < end && count < maxRecords) {
    if (load<u8>(pos) !== 0x4a) break;
    const lr = Read.sv(pos + 1, end);
    if (lr < 0) break;
    const n = <u32>lr >>> 3;
    let p = pos + 1 + (<u32>lr & 7);
    const stop = p + n;
    if (stop > end) break;
    let idOff: u32 = 0,
      idLen: u32 = 0,
      h1: u32 = 0,
      h2: u32 = 0,
      arm: u32 = 0,
      ep: u32 = 0,
      seg: u32 = 0;
    let start: i32 = 0,
      lat: u32 = 0,
      status: u32 = 0,
      flags: u32 = 0,
      bytes: u32 = 0,
      hlo: u32 = 0,
      hhi: u32 = 0,
      cl: u32 = 0,
      user: u32 = 0,
      outcome: u32 = 0;
    let r: i32 = 0;
    if (p < stop && load<u8>(p) === 0x0a) {
      r = Read.sv(p + 1, stop);
      const len = <u32>r >>> 3;
      const from = p + 1 + (<u32>r & 7);
      if (r >= 0 && len <= stop - from && len <= maxId) {
        let a: u32 = 0x811c9dc5 ^ len;
        let b: u32 = 0x9e3779b9 ^ (len * 0x85ebca6b);
        let k = from;
        const e = from + len;
        const e4 = from + (len & ~3);
        for (; k < e4; k += 4) {
          const w = load<u32>(k);
          a = (a ^ w) * 0x01000193;
          a ^= a >>> 15;
          b = (b ^ w) * 0x5bd1e995;
          b ^= b >>> 13;
        }
        for (; k < e; k++) {
          const c = <u32>load<u8>(k);
          a = (a ^ c) * 0x01000193;
          b = (b ^ c) * 0x5bd1e995;
          b ^= b >>> 15;
        }
        h1 = Read.fmix(a);
        h2 = Read.fmix(b);
        idOff = from;
        idLen = len;
        p = from + len;
      }
    }
    if (p < stop && load<u8>(p) === 0x10) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        arm = (<u32>r >>> 3) & 0xff;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p < stop && load<u8>(p) === 0x18) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        ep = <u32>r >>> 3;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p < stop && load<u8>(p) === 0x20) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        seg = <u32>r >>> 3;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p < stop && load<u8>(p) === 0x28) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        const z = <u32>r >>> 3;
        start = <i32>(z >>> 1) ^ -(<i32>(z & 1));
        p += 1 + (<u32>r & 7);
      }
    }
    if (p < stop && load<u8>(p) === 0x30) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        lat = <u32>r >>> 3;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p < stop && load<u8>(p) === 0x38) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        status = <u32>r >>> 3;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p < stop && load<u8>(p) === 0x40) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        flags = <u32>r >>> 3;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p < stop && load<u8>(p) === 0x48) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        bytes = <u32>r >>> 3;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p + 9 <= stop && load<u8>(p) === 0x51) {
      hlo = load<u32>(p + 1);
      hhi = load<u32>(p + 5);
      p += 9;
    }
    if (p < stop && load<u8>(p) === 0x58) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        cl = <u32>r >>> 3;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p < stop && load<u8>(p) === 0x60) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        user = <u32>r >>> 3;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p < stop && load<u8>(p) === 0x68) {
      r = Read.sv(p + 1, stop);
      if (r >= 0) {
        outcome = <u32>r >>> 3;
        p += 1 + (<u32>r & 7);
      }
    }
    if (p !== stop) break; // not the common shape: the caller decodes this record
    const i = count;
    store<u32>(C_IDOFF + i * 4, idOff);
    store<u32>(C_IDLEN + i * 4, idLen);
    store<u32>(C_H1 + i * 4, h1);
    store<u32>(C_H2 + i * 4, h2);
    store<u8>(C_ARM + i, arm);
    store<u32>(C_EP + i * 4, ep);
    store<u32>(C_SEG + i * 4, seg);
    store<f64>(C_START + i * 8, <f64>start);
    store<u32>(C_LAT + i * 4, lat);
    store<u32>(C_STATUS + i * 4, status);
    store<u32>(C_FLAGS + i * 4, flags);
    store<f64>(C_BYTES + i * 8, <f64>bytes);
    store<u32>(C_HLO + i * 4, hlo);
    store<u32>(C_HHI + i * 4, hhi);
    store<u32>(C_CLUSTER + i * 4, cl);
    store<u32>(C_USER + i * 4, user);
    store<u32>(C_OUTCOME + i * 4, outcome);
    count++;
    pos = stop;
  }
  outPos = pos;
  outCount = count;
}
