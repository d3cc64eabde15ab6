/**
 * Encodes a `umbra.telemetry.v1.Batch` from plain objects. The daemon itself
 * only decodes; this writer serves replay of JSON lines (each line becomes a
 * batch and takes the same path as a received one), tests and benchmarks.
 * Fields are written in field-number order, defaults omitted, as protobuf
 * encoders do.
 */

export interface RecordInput {
  requestId: Uint8Array;
  arm: number;
  endpoint?: number;
  segment?: number;
  /** Relative to the batch's baseTimeUs; may be negative. */
  startDeltaUs?: number;
  latencyUs?: number;
  status?: number;
  flags?: number;
  responseBytes?: number;
  /** 64-bit body hash as two 32-bit halves. */
  hashLo?: number;
  hashHi?: number;
  cluster?: number;
  user?: number;
  outcomeMilli?: number;
}

export interface BatchInput {
  schemaVersion?: number;
  proxyId?: string;
  worker?: number;
  service?: string;
  sequence?: number;
  baseTimeUs?: number;
  dict?: { id: number; value: string }[];
  /** Counters fields by name (see COUNTER_NAMES in decode.ts) in field order 1..12. */
  counters?: number[];
  records?: RecordInput[];
}

const enc = new TextEncoder();

/** A growable byte writer; `reset()` reuses its buffer. */
class Writer {
  buf: Uint8Array;
  len = 0;

  constructor(size = 256) {
    this.buf = new Uint8Array(size);
  }

  reset(): this {
    this.len = 0;
    return this;
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  /** A non-negative integer up to 2^53 as a varint. */
  varint(v: number): void {
    this.room(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** A varint field, omitted when 0 or undefined (proto3 default). */
  uint(field: number, v: number | undefined): void {
    if (!v) return;
    this.tag(field, 0);
    this.varint(v);
  }

  fixed32(v: number): void {
    this.room(4);
    const b = this.buf;
    b[this.len++] = v & 0xff;
    b[this.len++] = (v >>> 8) & 0xff;
    b[this.len++] = (v >>> 16) & 0xff;
    b[this.len++] = (v >>> 24) & 0xff;
  }

  bytes(v: Uint8Array): void {
    this.varint(v.length);
    this.room(v.length);
    this.buf.set(v, this.len);
    this.len += v.length;
  }

  /** A string field, omitted when empty. */
  str(field: number, v: string | undefined): void {
    if (!v) return;
    this.tag(field, 2);
    this.bytes(enc.encode(v));
  }

  /** Appends `inner`'s bytes as a length-delimited field. */
  message(field: number, inner: Writer): void {
    this.tag(field, 2);
    this.bytes(inner.buf.subarray(0, inner.len));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

// Scratch writer for nested messages (encodeBatch is synchronous, not re-entrant).
const inner = new Writer(1024);

function writeRecord(w: Writer, r: RecordInput): void {
  if (r.requestId.length > 0) {
    w.tag(1, 2);
    w.bytes(r.requestId);
  }
  w.uint(2, r.arm);
  w.uint(3, r.endpoint);
  w.uint(4, r.segment);
  if (r.startDeltaUs) {
    w.tag(5, 0);
    w.varint(zigzag(r.startDeltaUs));
  }
  w.uint(6, r.latencyUs);
  w.uint(7, r.status);
  w.uint(8, r.flags);
  w.uint(9, r.responseBytes);
  if (r.hashLo || r.hashHi) {
    w.tag(10, 1);
    w.fixed32(r.hashLo ?? 0);
    w.fixed32(r.hashHi ?? 0);
  }
  w.uint(11, r.cluster);
  w.uint(12, r.user);
  w.uint(13, r.outcomeMilli);
}

/** Serializes a batch. */
export function encodeBatch(b: BatchInput): Uint8Array {
  const w = new Writer(64 + 48 * (b.records?.length ?? 0));
  w.uint(1, b.schemaVersion ?? 1);
  w.str(2, b.proxyId);
  w.uint(3, b.worker);
  w.str(4, b.service);
  w.uint(5, b.sequence);
  if (b.baseTimeUs) {
    w.tag(6, 1);
    w.fixed32(b.baseTimeUs % 4294967296);
    w.fixed32(Math.floor(b.baseTimeUs / 4294967296));
  }
  for (const d of b.dict ?? []) {
    inner.reset().uint(1, d.id);
    inner.str(2, d.value);
    w.message(7, inner);
  }
  if (b.counters) {
    inner.reset();
    for (let i = 0; i < b.counters.length; i++) inner.uint(i + 1, b.counters[i]);
    w.message(8, inner);
  }
  for (const r of b.records ?? []) {
    writeRecord(inner.reset(), r);
    w.message(9, inner);
  }
  return w.finish();
}
