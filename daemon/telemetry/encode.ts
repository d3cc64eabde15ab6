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

/** A growable byte writer. */
class Writer {
  buf = new Uint8Array(256);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  byte(v: number): void {
    this.room(1);
    this.buf[this.len++] = v;
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

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function record(r: RecordInput): Uint8Array {
  const w = new Writer();
  if (r.requestId.length > 0) {
    w.tag(1, 2);
    w.bytes(r.requestId);
  }
  const vint = (field: number, v: number | undefined): void => {
    if (!v) return;
    w.tag(field, 0);
    w.varint(v);
  };
  vint(2, r.arm);
  vint(3, r.endpoint);
  vint(4, r.segment);
  if (r.startDeltaUs) {
    w.tag(5, 0);
    w.varint(zigzag(r.startDeltaUs));
  }
  vint(6, r.latencyUs);
  vint(7, r.status);
  vint(8, r.flags);
  vint(9, r.responseBytes);
  if (r.hashLo || r.hashHi) {
    w.tag(10, 1);
    w.fixed32(r.hashLo ?? 0);
    w.fixed32(r.hashHi ?? 0);
  }
  vint(11, r.cluster);
  return w.finish();
}

/** Serializes a batch. */
export function encodeBatch(b: BatchInput): Uint8Array {
  const w = new Writer();
  const vint = (field: number, v: number | undefined): void => {
    if (!v) return;
    w.tag(field, 0);
    w.varint(v);
  };
  const str = (field: number, v: string | undefined): void => {
    if (!v) return;
    w.tag(field, 2);
    w.bytes(enc.encode(v));
  };
  vint(1, b.schemaVersion ?? 1);
  str(2, b.proxyId);
  vint(3, b.worker);
  str(4, b.service);
  vint(5, b.sequence);
  if (b.baseTimeUs) {
    w.tag(6, 1);
    w.fixed32(b.baseTimeUs % 4294967296);
    w.fixed32(Math.floor(b.baseTimeUs / 4294967296));
  }
  for (const d of b.dict ?? []) {
    const e = new Writer();
    if (d.id) {
      e.tag(1, 0);
      e.varint(d.id);
    }
    if (d.value) {
      e.tag(2, 2);
      e.bytes(enc.encode(d.value));
    }
    w.tag(7, 2);
    w.bytes(e.finish());
  }
  if (b.counters) {
    const c = new Writer();
    b.counters.forEach((v, i) => {
      if (!v) return;
      c.tag(i + 1, 0);
      c.varint(v);
    });
    w.tag(8, 2);
    w.bytes(c.finish());
  }
  for (const r of b.records ?? []) {
    w.tag(9, 2);
    w.bytes(record(r));
  }
  return w.finish();
}
