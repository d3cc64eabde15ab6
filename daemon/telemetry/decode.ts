/**
 * A hand-rolled decoder of `umbra.telemetry.v1.Batch` (proto/umbra/telemetry/v1/
 * telemetry.proto) into reusable columns: no object per record, no string per
 * record. The request id of each record is hashed into two 32-bit words while
 * it is read, and kept as (offset, length) into the input buffer.
 *
 * Protobuf rules honoured: fields in any order, unknown fields skipped by wire
 * type, a repeated scalar field's last value wins, packed or not is irrelevant
 * here (no repeated scalars). A malformed batch throws {@link DecodeError}
 * with a short reason; nothing is half-applied because the caller dispatches
 * only after a successful decode.
 */

import { decodeRecordRun, lastRunCount, loadBatch } from './decode-wasm.js';

/** Why a batch was refused; `reason` is a fixed token for metrics. */
export class DecodeError extends Error {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** Limits that make a batch "oversized"; beyond them the batch is refused. */
export interface DecodeLimits {
  maxRecords: number;
  maxDictEntries: number;
  maxStringBytes: number;
  maxRequestIdBytes: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxRecords: 65_536,
  maxDictEntries: 4_096,
  maxStringBytes: 1_024,
  maxRequestIdBytes: 128,
};

/**
 * One decoded batch. Owned by the decoder and overwritten by the next
 * `decodeBatch` call: read it before decoding again. Column arrays are
 * longer than `count`; only indices `< count` are valid.
 */
export class BatchColumns {
  schemaVersion = 0;
  proxyId = '';
  worker = 0;
  service = '';
  sequence = 0;
  baseTimeUs = 0;
  dictCount = 0;
  dictIds: number[] = [];
  dictValues: string[] = [];
  hasCounters = false;
  /** Counters fields 1..12 at indices 0..11 (see {@link COUNTER_NAMES}). */
  readonly counters = new Float64Array(12);
  count = 0;
  /** The input the request ids point into. */
  buf: Uint8Array = new Uint8Array(0);
  idOff = new Int32Array(0);
  idLen = new Int32Array(0);
  /** Two independent 32-bit hashes of the request id bytes. */
  idH1 = new Int32Array(0);
  idH2 = new Int32Array(0);
  arm = new Uint8Array(0);
  endpoint = new Uint32Array(0);
  segment = new Uint32Array(0);
  startDeltaUs = new Float64Array(0);
  latencyUs = new Uint32Array(0);
  status = new Uint32Array(0);
  flags = new Uint32Array(0);
  responseBytes = new Float64Array(0);
  hashLo = new Int32Array(0);
  hashHi = new Int32Array(0);
  cluster = new Uint32Array(0);
  /** A/B split: the user's 32-bit id (0: none) and the outcome in thousandths (FLAG_OUTCOME says whether set). */
  user = new Uint32Array(0);
  outcomeMilli = new Uint32Array(0);

  constructor(initialCapacity = 1024) {
    this.grow(initialCapacity);
  }

  get capacity(): number {
    return this.arm.length;
  }

  /** Grows every column to at least `n` entries, keeping contents. */
  grow(n: number): void {
    if (n <= this.arm.length) return;
    const cap = Math.max(n, this.arm.length * 2);
    const g = <T extends Int32Array | Uint32Array | Uint8Array | Float64Array>(
      a: T,
      ctor: new (n: number) => T,
    ): T => {
      const b = new ctor(cap);
      b.set(a);
      return b;
    };
    this.idOff = g(this.idOff, Int32Array);
    this.idLen = g(this.idLen, Int32Array);
    this.idH1 = g(this.idH1, Int32Array);
    this.idH2 = g(this.idH2, Int32Array);
    this.arm = g(this.arm, Uint8Array);
    this.endpoint = g(this.endpoint, Uint32Array);
    this.segment = g(this.segment, Uint32Array);
    this.startDeltaUs = g(this.startDeltaUs, Float64Array);
    this.latencyUs = g(this.latencyUs, Uint32Array);
    this.status = g(this.status, Uint32Array);
    this.flags = g(this.flags, Uint32Array);
    this.responseBytes = g(this.responseBytes, Float64Array);
    this.hashLo = g(this.hashLo, Int32Array);
    this.hashHi = g(this.hashHi, Int32Array);
    this.cluster = g(this.cluster, Uint32Array);
    this.user = g(this.user, Uint32Array);
    this.outcomeMilli = g(this.outcomeMilli, Uint32Array);
  }
}

// Decoder state: module-level for speed; decodeBatch is not re-entrant.
let b: Uint8Array = new Uint8Array(0);
/** The same bytes as `b`, for reading 32-bit words. */
let bView = new DataView(b.buffer);
let pos = 0;
let end = 0;
// High 32 bits of the last readVarint64 / readFixed64 (low bits are returned).
let hi32 = 0;

const utf8 = new TextDecoder('utf-8', { fatal: false });

function truncated(what: string): never {
  throw new DecodeError('truncated', `${what} runs past the end at byte ${pos}`);
}

/** A varint as a uint32 (higher bits dropped, as protobuf does for 32-bit fields). */
function readVarint32(): number {
  let x = 0;
  let shift = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) truncated('varint');
    const c = b[pos++]!;
    if (shift < 32) x |= (c & 0x7f) << shift;
    if (c < 0x80) return x >>> 0;
    shift += 7;
  }
  throw new DecodeError('bad_varint', `varint longer than 10 bytes at byte ${pos}`);
}

/** A varint as lo (returned, uint32) and hi32. */
function readVarint64(): number {
  let lo = 0;
  let hi = 0;
  let shift = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) truncated('varint');
    const c = b[pos++]!;
    const v = c & 0x7f;
    if (shift < 28) lo |= v << shift;
    else if (shift === 28) {
      lo |= v << 28;
      hi |= v >>> 4;
    } else hi |= v << (shift - 32);
    if (c < 0x80) {
      hi32 = hi >>> 0;
      return lo >>> 0;
    }
    shift += 7;
  }
  throw new DecodeError('bad_varint', `varint longer than 10 bytes at byte ${pos}`);
}

function readFixed32(): number {
  if (pos + 4 > end) truncated('fixed32');
  const v = (b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16) | (b[pos + 3]! << 24)) >>> 0;
  pos += 4;
  return v;
}

function readFixed64(): number {
  const lo = readFixed32();
  hi32 = readFixed32();
  return lo;
}

function readLength(limit: number, what: string): number {
  const n = readVarint32();
  if (n > end - pos) truncated(what);
  if (n > limit) throw new DecodeError('oversized', `${what} of ${n} bytes exceeds ${limit}`);
  return n;
}

function skip(wire: number): void {
  switch (wire) {
    case 0:
      readVarint64();
      return;
    case 1:
      if (pos + 8 > end) truncated('fixed64');
      pos += 8;
      return;
    case 2: {
      const n = readVarint32();
      if (n > end - pos) truncated('field');
      pos += n;
      return;
    }
    case 5:
      if (pos + 4 > end) truncated('fixed32');
      pos += 4;
      return;
    default:
      throw new DecodeError('bad_wire_type', `wire type ${wire} at byte ${pos}`);
  }
}

function readString(limit: number, what: string): string {
  const n = readLength(limit, what);
  const s = utf8.decode(b.subarray(pos, pos + n));
  pos += n;
  return s;
}

function expectWire(field: number, wire: number, want: number): void {
  if (wire !== want) {
    throw new DecodeError('bad_wire_type', `field ${field} has wire type ${wire}, expected ${want}`);
  }
}

function readDictEntry(out: BatchColumns, limits: DecodeLimits): void {
  const n = readVarint32();
  if (n > end - pos) truncated('dict entry');
  const stop = pos + n;
  const outerEnd = end;
  end = stop;
  let id = 0;
  let value = '';
  while (pos < end) {
    const tag = readVarint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) id = readVarint32();
    else if (field === 2 && wire === 2) value = readString(limits.maxStringBytes, 'dictionary value');
    else skip(wire);
  }
  end = outerEnd;
  if (out.dictCount >= limits.maxDictEntries) {
    throw new DecodeError('oversized', `more than ${limits.maxDictEntries} dictionary entries`);
  }
  out.dictIds[out.dictCount] = id;
  out.dictValues[out.dictCount] = value;
  out.dictCount++;
}

function readCounters(out: BatchColumns): void {
  const n = readVarint32();
  if (n > end - pos) truncated('counters');
  const outerEnd = end;
  end = pos + n;
  out.hasCounters = true;
  while (pos < end) {
    const tag = readVarint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field >= 1 && field <= 12 && wire === 0) {
      const lo = readVarint64();
      out.counters[field - 1] = hi32 * 4294967296 + lo;
    } else skip(wire);
  }
  end = outerEnd;
}

/** Wire type of each Record field 1..13 (index 0 unused). */
const RECORD_WIRE = Uint8Array.from([255, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);

function badVarint(p: number): never {
  throw new DecodeError('bad_varint', `varint longer than 10 bytes at byte ${p}`);
}

/**
 * A varint of at most 4 bytes (a value below 2^28) at `p`, wholly before
 * `stop`: returns value * 8 + its length in bytes (an int32), or -1 when it
 * is longer or runs past `stop` (the caller then takes the general path).
 */
function shortVarint(buf: Uint8Array, p: number, stop: number): number {
  if (p + 4 <= stop) {
    let c = buf[p]!;
    if (c < 0x80) return (c << 3) | 1;
    let v = c & 0x7f;
    c = buf[p + 1]!;
    v |= (c & 0x7f) << 7;
    if (c < 0x80) return (v << 3) | 2;
    c = buf[p + 2]!;
    v |= (c & 0x7f) << 14;
    if (c < 0x80) return (v << 3) | 3;
    c = buf[p + 3]!;
    if (c >= 0x80) return -1;
    return ((v | (c << 21)) << 3) | 4;
  }
  // Near the end of the record: byte by byte.
  let v = 0;
  for (let k = 0; k < 4 && p + k < stop; k++) {
    const c = buf[p + k]!;
    v |= (c & 0x7f) << (7 * k);
    if (c < 0x80) return (v << 3) | (k + 1);
  }
  return -1;
}

/**
 * One Record, with everything in locals and varints inlined (the hot path:
 * one call per record). Varints are accumulated as doubles, exact below 2^53;
 * 32-bit fields are then truncated modulo 2^32 as protobuf does.
 */
function readRecord(out: BatchColumns, i: number, limits: DecodeLimits): void {
  const n = readVarint32();
  if (n > end - pos) truncated('record');
  const buf = b;
  const view = bView;
  let p = pos;
  const stop = p + n;
  let idOff = 0;
  let idLen = 0;
  let h1 = 0;
  let h2 = 0;
  let arm = 0;
  let endpoint = 0;
  let segment = 0;
  let start = 0;
  let latency = 0;
  let status = 0;
  let flags = 0;
  let bytes = 0;
  let hLo = 0;
  let hHi = 0;
  let cluster = 0;
  let user = 0;
  let outcome = 0;
  // Fast path: the filter (like every protobuf encoder) writes fields in
  // ascending number with one-byte tags, and most values fit 4 varint bytes.
  // Read them in that order with predictable branches; anything else (a field
  // out of order, an unknown field, a long value, a bad length) leaves the
  // rest of the record to the general loop below, which starts where this
  // stopped, so fields are still applied in byte order (last one wins).
  // A field that does not fit the fast path leaves `p` on its tag, which no
  // later check matches.
  let r = 0;
  if (p < stop && buf[p] === 0x0a) {
    r = shortVarint(buf, p + 1, stop);
    const len = r >>> 3;
    const from = p + 1 + (r & 7);
    if (r >= 0 && len <= stop - from && len <= limits.maxRequestIdBytes) {
      h1 = hashWords(view, from, len);
      h2 = hashH2;
      idOff = from;
      idLen = len;
      p = from + len;
    }
  }
  if (p < stop && buf[p] === 0x10) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      arm = (r >>> 3) & 0xff;
      p += 1 + (r & 7);
    }
  }
  if (p < stop && buf[p] === 0x18) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      endpoint = r >>> 3;
      p += 1 + (r & 7);
    }
  }
  if (p < stop && buf[p] === 0x20) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      segment = r >>> 3;
      p += 1 + (r & 7);
    }
  }
  if (p < stop && buf[p] === 0x28) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      // sint64 zigzag of a value below 2^28.
      const z = r >>> 3;
      start = (z >>> 1) ^ -(z & 1);
      p += 1 + (r & 7);
    }
  }
  if (p < stop && buf[p] === 0x30) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      latency = r >>> 3;
      p += 1 + (r & 7);
    }
  }
  if (p < stop && buf[p] === 0x38) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      status = r >>> 3;
      p += 1 + (r & 7);
    }
  }
  if (p < stop && buf[p] === 0x40) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      flags = r >>> 3;
      p += 1 + (r & 7);
    }
  }
  if (p < stop && buf[p] === 0x48) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      bytes = r >>> 3;
      p += 1 + (r & 7);
    }
  }
  if (p + 9 <= stop && buf[p] === 0x51) {
    hLo = view.getInt32(p + 1, true);
    hHi = view.getInt32(p + 5, true);
    p += 9;
  }
  if (p < stop && buf[p] === 0x58) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      cluster = r >>> 3;
      p += 1 + (r & 7);
    }
  }
  if (p < stop && buf[p] === 0x60) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      user = r >>> 3;
      p += 1 + (r & 7);
    }
  }
  if (p < stop && buf[p] === 0x68) {
    r = shortVarint(buf, p + 1, stop);
    if (r >= 0) {
      outcome = r >>> 3;
      p += 1 + (r & 7);
    }
  }
  while (p < stop) {
    // Tag (every known tag fits one byte; longer tags are unknown fields).
    let c = buf[p++]!;
    let tag = c & 0x7f;
    if (c >= 0x80) {
      let mul = 128;
      for (let k = 1; ; k++) {
        if (p >= stop) truncated('tag');
        c = buf[p++]!;
        tag += (c & 0x7f) * mul;
        if (c < 0x80) break;
        if (k >= 9) badVarint(p);
        mul *= 128;
      }
      if (tag > 0xffffffff) throw new DecodeError('bad_tag', `tag out of range at byte ${p}`);
    }
    const wire = tag & 7;
    if (tag < 8) throw new DecodeError('bad_tag', `field number 0 at byte ${p}`);
    let v = 0;
    if (wire === 0 || wire === 2) {
      if (p >= stop) truncated('varint');
      c = buf[p++]!;
      v = c & 0x7f;
      if (c >= 0x80) {
        let mul = 128;
        for (let k = 1; ; k++) {
          if (p >= stop) truncated('varint');
          c = buf[p++]!;
          v += (c & 0x7f) * mul;
          if (c < 0x80) break;
          if (k >= 9) badVarint(p);
          mul *= 128;
        }
      }
    }
    // Dense field numbers let V8 dispatch with a jump table; a wrong wire type is an unknown field.
    const field = tag >>> 3;
    switch (field <= 13 && RECORD_WIRE[field] === wire ? field : 0) {
      case 1: {
        if (v > stop - p) truncated('request_id');
        if (v > limits.maxRequestIdBytes) {
          throw new DecodeError('oversized', `request_id of ${v} bytes exceeds ${limits.maxRequestIdBytes}`);
        }
        h1 = hashWords(view, p, v);
        h2 = hashH2;
        const e = p + v;
        idOff = p;
        idLen = v;
        p = e;
        break;
      }
      case 2:
        arm = (v >>> 0) & 0xff;
        break;
      case 3:
        // ToUint32: v modulo 2^32, as protobuf truncates 32-bit fields (no float modulo).
        endpoint = v >>> 0;
        break;
      case 4:
        segment = v >>> 0;
        break;
      case 5:
        // sint64 zigzag.
        start = v % 2 === 0 ? v / 2 : -(v + 1) / 2;
        break;
      case 6:
        latency = v >>> 0;
        break;
      case 7:
        status = v >>> 0;
        break;
      case 8:
        flags = v >>> 0;
        break;
      case 9:
        bytes = v;
        break;
      case 10:
        if (p + 8 > stop) truncated('fixed64');
        hLo = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
        hHi = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24);
        p += 8;
        break;
      case 11:
        cluster = v >>> 0;
        break;
      case 12:
        user = v >>> 0;
        break;
      case 13:
        outcome = v >>> 0;
        break;
      default:
        // Unknown field (or a known one with an unexpected wire type): skip it.
        if (wire === 0) break;
        if (wire === 2) {
          if (v > stop - p) truncated('field');
          p += v;
        } else if (wire === 1) {
          if (p + 8 > stop) truncated('fixed64');
          p += 8;
        } else if (wire === 5) {
          if (p + 4 > stop) truncated('fixed32');
          p += 4;
        } else throw new DecodeError('bad_wire_type', `wire type ${wire} at byte ${p}`);
    }
  }
  pos = p;
  out.idOff[i] = idOff;
  out.idLen[i] = idLen;
  out.idH1[i] = h1;
  out.idH2[i] = h2;
  out.arm[i] = arm;
  out.endpoint[i] = endpoint;
  out.segment[i] = segment;
  out.startDeltaUs[i] = start;
  out.latencyUs[i] = latency;
  out.status[i] = status;
  out.flags[i] = flags;
  out.responseBytes[i] = bytes;
  out.hashLo[i] = hLo;
  out.hashHi[i] = hHi;
  out.cluster[i] = cluster;
  out.user[i] = user;
  out.outcomeMilli[i] = outcome;
}

/**
 * Decodes `input` into `out` (reused). Throws {@link DecodeError} on a
 * malformed or oversized batch; `out` is then in an unspecified state.
 */
export function decodeBatch(
  input: Uint8Array,
  out: BatchColumns,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): BatchColumns {
  b = input;
  bView = new DataView(input.buffer, input.byteOffset, input.byteLength);
  pos = 0;
  end = input.length;
  out.buf = input;
  out.schemaVersion = 0;
  out.proxyId = '';
  out.worker = 0;
  out.service = '';
  out.sequence = 0;
  out.baseTimeUs = 0;
  out.dictCount = 0;
  out.hasCounters = false;
  out.counters.fill(0);
  out.count = 0;
  const fast = loadBatch(input);
  while (pos < end) {
    // A run of records (tag 0x4a: field 9, length-delimited) goes to the WebAssembly fast path,
    // which decodes what it can; whatever it declines is read below like any other field.
    if (fast && b[pos] === 0x4a) {
      const stop = decodeRecordRun(out, pos, end, out.count, limits.maxRequestIdBytes, limits.maxRecords);
      if (stop !== pos) {
        pos = stop;
        out.count = lastRunCount;
        continue;
      }
    }
    const tag = readVarint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) throw new DecodeError('bad_tag', `field number 0 at byte ${pos}`);
    switch (field) {
      case 1:
        expectWire(field, wire, 0);
        out.schemaVersion = readVarint32();
        break;
      case 2:
        expectWire(field, wire, 2);
        out.proxyId = readString(limits.maxStringBytes, 'proxy_id');
        break;
      case 3:
        expectWire(field, wire, 0);
        out.worker = readVarint32();
        break;
      case 4:
        expectWire(field, wire, 2);
        out.service = readString(limits.maxStringBytes, 'service');
        break;
      case 5: {
        expectWire(field, wire, 0);
        const lo = readVarint64();
        out.sequence = hi32 * 4294967296 + lo;
        break;
      }
      case 6: {
        expectWire(field, wire, 1);
        const lo = readFixed64();
        out.baseTimeUs = hi32 * 4294967296 + lo;
        break;
      }
      case 7:
        expectWire(field, wire, 2);
        readDictEntry(out, limits);
        break;
      case 8:
        expectWire(field, wire, 2);
        readCounters(out);
        break;
      case 9: {
        expectWire(field, wire, 2);
        const i = out.count;
        if (i >= limits.maxRecords)
          throw new DecodeError('oversized', `more than ${limits.maxRecords} records`);
        if (i >= out.capacity) out.grow(i + 1);
        readRecord(out, i, limits);
        out.count = i + 1;
        break;
      }
      default:
        skip(wire);
    }
  }
  return out;
}

/** Last result of {@link hashRequestId}: the second hash. */
export let lastIdH2 = 0;

/** murmur3's 32-bit finalizer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The request-id hash (two independent 32-bit hashes, 64 bits in all): four
 * bytes per step with two different multiply-xorshift rounds, the tail byte
 * by byte, both seeded with the length and finished with murmur3's fmix32.
 * Returns h1 and leaves h2 in {@link lastIdH2}. The decoder hashes every
 * record's id with the same function; JSON-lines replay and tests call this.
 */
export function hashRequestId(bytes: Uint8Array, off = 0, len = bytes.length - off): number {
  const h1 = hashWords(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), off, len);
  lastIdH2 = hashH2;
  return h1;
}

/** Second result of {@link hashWords}. */
let hashH2 = 0;

/** The hash of {@link hashRequestId} over view[off .. off + len), reading whole words. */
function hashWords(view: DataView, off: number, len: number): number {
  let h1 = 0x811c9dc5 ^ len;
  let h2 = 0x9e3779b9 ^ Math.imul(len, 0x85ebca6b);
  let k = off;
  const e = off + len;
  for (const e4 = off + (len & ~3); k < e4; k += 4) {
    const w = view.getInt32(k, true);
    h1 = Math.imul(h1 ^ w, 0x01000193);
    h1 ^= h1 >>> 15;
    h2 = Math.imul(h2 ^ w, 0x5bd1e995);
    h2 ^= h2 >>> 13;
  }
  for (; k < e; k++) {
    const c = view.getUint8(k);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  hashH2 = fmix32(h2);
  return fmix32(h1);
}
