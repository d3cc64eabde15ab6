/**
 * Batch encoding (telemetry.proto `Batch`), written by hand into one buffer
 * reused for every batch of the VM: no message objects, no sizing pass, and
 * fields at their default value (0, empty) are left out, as proto3's own
 * encoders do, so a live record is about 20 bytes instead of 40. Fields are
 * written in ascending number (the daemon's decoder reads them fastest in
 * that order: daemon/telemetry/decode.ts).
 */
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { Record } from './generated/umbra/telemetry/v1/Record';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { BatchMeta, Counts, Dictionary, RecordBuffer } from './telemetry';

/** The longest request id a record carries (request-id.ts) plus every other field at its widest, rounded up. */
const RECORD_MAX = 192;

let out = new Uint8Array(16384);
let pos: i32 = 0;

/** Makes room for `extra` more bytes. */
function ensure(extra: i32): void {
  if (pos + extra <= out.length) return;
  let cap = out.length * 2;
  while (cap < pos + extra) cap *= 2;
  const grown = new Uint8Array(cap);
  memory.copy(grown.dataStart, out.dataStart, <usize>pos);
  out = grown;
}

function put(b: u32): void {
  store<u8>(out.dataStart + <usize>pos, <u8>b);
  pos++;
}

function varint(v: u64): void {
  while (v >= 0x80) {
    put(<u32>(v & 0x7f) | 0x80);
    v >>= 7;
  }
  put(<u32>v);
}

function varintSize(v: u64): i32 {
  let n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/** A varint field (`key` is the one-byte tag), left out when 0. */
function field(key: u32, v: u64): void {
  if (v === 0) return;
  put(key);
  varint(v);
}

/** A length-delimited field of `len` bytes at `ptr`, left out when empty. */
function bytesField(key: u32, ptr: usize, len: i32): void {
  if (len === 0) return;
  ensure(len + 6);
  put(key);
  varint(<u64>len);
  memory.copy(out.dataStart + <usize>pos, ptr, <usize>len);
  pos += len;
}

function stringField(key: u32, s: string): void {
  if (s.length === 0) return;
  const b = String.UTF8.encode(s);
  bytesField(key, changetype<usize>(b), b.byteLength);
}

/** Opens an embedded message: its tag and a one-byte length to be fixed by {@link close}. */
function open(key: u32): i32 {
  put(key);
  put(0);
  return pos;
}

/** Closes the embedded message opened at `start`: writes its length, moving the body when it needs more than one byte. */
function close(start: i32): void {
  const len = pos - start;
  if (len < 0x80) {
    store<u8>(out.dataStart + <usize>(start - 1), <u8>len);
    return;
  }
  const n = varintSize(<u64>len);
  ensure(n);
  const base = out.dataStart;
  memory.copy(base + <usize>(start - 1 + n), base + <usize>start, <usize>len);
  pos = start - 1;
  varint(<u64>len);
  pos = start - 1 + n + len;
}

/** sint64 zigzag. */
function zigzag(v: i64): u64 {
  return <u64>((v << 1) ^ (v >> 63));
}

function encodeRecord(r: Record, startDeltaUs: i64): void {
  ensure(RECORD_MAX + r.requestId.length);
  const start = open(0x4a); // records = 9
  bytesField(0x0a, r.requestId.dataStart, r.requestId.length);
  field(0x10, <u64>r.arm);
  field(0x18, <u64>r.endpoint);
  field(0x20, <u64>r.segment);
  field(0x28, zigzag(startDeltaUs));
  field(0x30, <u64>r.latencyUs);
  field(0x38, <u64>r.status);
  field(0x40, <u64>r.flags);
  field(0x48, r.responseBytes);
  if (r.bodyHash !== 0) {
    put(0x51);
    store<i64>(out.dataStart + <usize>pos, r.bodyHash);
    pos += 8;
  }
  field(0x58, <u64>r.cluster);
  field(0x60, <u64>r.user);
  field(0x68, <u64>r.outcomeMilli);
  close(start);
}

function encodeCounters(c: Counts): void {
  ensure(12 * 11 + 4);
  const start = open(0x42); // counters = 8
  field(0x08, c.requests);
  field(0x10, c.mirrored);
  field(0x18, c.skippedSampling);
  field(0x20, c.skippedMethod);
  field(0x28, c.skippedPath);
  field(0x30, c.skippedBodySize);
  field(0x38, c.skippedPaused);
  field(0x40, c.shadowBusy);
  field(0x48, c.skippedNoSegment);
  field(0x50, c.droppedRecords);
  field(0x58, c.calloutFailures);
  field(0x60, c.streamReconnects);
  close(start);
}

function encodeDictEntry(id: u32, value: string): void {
  ensure(16);
  const start = open(0x3a); // dict = 7
  field(0x08, <u64>id);
  stringField(0x12, value);
  close(start);
}

/**
 * Encodes up to `max` of the oldest records as one Batch (schema 1) with the
 * given sequence and base time, announcing the dictionary entries they use
 * (each once per stream). Does not remove the records: call
 * `buffer.shift(n)` once sent. The bytes answered stay valid until the next
 * call.
 */
export function encodeBatch(
  meta: BatchMeta,
  sequence: u64,
  baseTimeUs: i64,
  counts: Counts,
  buffer: RecordBuffer,
  dict: Dictionary,
  max: i32,
): Uint8Array {
  pos = 0;
  const n = buffer.count < max ? buffer.count : max;
  ensure(64);
  field(0x08, 1); // schema_version
  stringField(0x12, meta.proxyId);
  field(0x18, <u64>meta.worker);
  stringField(0x22, meta.service);
  field(0x28, sequence);
  ensure(9);
  put(0x31); // base_time_us, fixed64
  store<i64>(out.dataStart + <usize>pos, baseTimeUs);
  pos += 8;
  for (let i = 0; i < n; i++) {
    const r = buffer.at(i);
    announce(dict, r.endpoint);
    announce(dict, r.segment);
    announce(dict, r.cluster);
  }
  encodeCounters(counts);
  for (let i = 0; i < n; i++) encodeRecord(buffer.at(i), buffer.startAt(i) - baseTimeUs);
  return Uint8Array.wrap(out.buffer, 0, pos);
}

function announce(dict: Dictionary, id: u32): void {
  if (dict.announce(id)) encodeDictEntry(id, dict.values[id - 1]);
}

/** How many records {@link encodeBatch} put in the batch. */
export function batchSize(buffer: RecordBuffer, max: i32): i32 {
  return buffer.count < max ? buffer.count : max;
}
