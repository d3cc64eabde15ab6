/**
 * Test entry for the filter's pure logic: compiled on its own by
 * test/unit/filter/ and run in Node (no Envoy, no host calls). Each export
 * wraps one pure function with plain inputs and outputs.
 */
import '../abi/abort';
import { encodeBatch } from '../batch-encoder';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { Config, describeConfig, parseConfig } from '../config';
import { decodeControl } from '../control';
import { FNV_OFFSET, fnvUpdate } from '../fnv';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { Arm } from '../generated/umbra/telemetry/v1/Arm';
import { buildShadowHeaders, findPair, serializePairs, shadowDropSet } from '../headers';
import { idBytes, isUsableId, uuidV4 } from '../request-id';
import { Rng } from '../rng';
import {
  findCookie,
  inB,
  methodAllowed,
  normalisePath,
  parseMilli,
  pathAllowed,
  regionIndex,
  segmentPoint,
  userId,
} from '../sampling';
import { classifyLocalReply } from '../shadow';
import { BatchMeta, Counts, Dictionary, RecordBuffer } from '../telemetry';

/** '' when valid, else the error with its path. */
export function configError(text: string): string {
  const r = parseConfig(text);
  return r.config === null ? r.error : '';
}

/** The start-up summary of a valid configuration ('' when invalid). */
export function configSummary(text: string): string {
  const r = parseConfig(text);
  return r.config === null ? '' : describeConfig(changetype<Config>(r.config));
}

function hex64(v: u64): string {
  let s = '';
  for (let i = 15; i >= 0; i--) s += '0123456789abcdef'.charAt(<i32>((v >> (<u64>i * 4)) & 15));
  return s;
}

/** FNV-1a 64 of the bytes, fed in chunks of `chunk` bytes, as hex. */
export function fnvChunked(bytes: Uint8Array, chunk: i32): string {
  let h = FNV_OFFSET;
  for (let off = 0; off < bytes.length; off += chunk) {
    const n = min<i32>(chunk, bytes.length - off);
    h = fnvUpdate(h, bytes.dataStart + <usize>off, <usize>n);
  }
  return hex64(h);
}

/** An outcome header value in thousandths (-1: malformed). */
export function outcomeMilli(value: string): i64 {
  const b = String.UTF8.encode(value);
  return parseMilli(changetype<usize>(b), b.byteLength);
}

/** Whether a user key is in B at `percentage`, and the id its records carry. */
export function splitOf(key: string, percentage: f64): string {
  const b = String.UTF8.encode(key);
  const h = fnvUpdate(FNV_OFFSET, changetype<usize>(b), b.byteLength);
  return (inB(h, percentage) ? 'B ' : 'A ') + userId(h).toString();
}

export function segmentPointOf(key: string): f64 {
  const b = String.UTF8.encode(key);
  return segmentPoint(changetype<usize>(b), b.byteLength);
}

export function normalise(path: string): string {
  const b = String.UTF8.encode(path);
  return normalisePath(changetype<usize>(b), b.byteLength);
}

/** The cookie's value, or '-' when absent. */
export function cookie(header: string, name: string): string {
  const b = String.UTF8.encode(header);
  const found = findCookie(changetype<usize>(b), b.byteLength, name);
  if (found < 0) return '-';
  return String.UTF8.decodeUnsafe(changetype<usize>(b) + <usize>(found >> 32), <usize>(found & 0xffffffff));
}

export function pathOk(path: string, include: string, exclude: string): bool {
  const b = String.UTF8.encode(path);
  const inc = include.length > 0 ? include.split(',') : [];
  const exc = exclude.length > 0 ? exclude.split(',') : [];
  return pathAllowed(changetype<usize>(b), b.byteLength, inc, exc);
}

export function methodOk(method: string, methods: string): bool {
  const b = String.UTF8.encode(method);
  return methodAllowed(changetype<usize>(b), b.byteLength, methods.split(','));
}

export function region(value: string, regions: string): i32 {
  const b = String.UTF8.encode(value);
  return regionIndex(changetype<usize>(b), b.byteLength, regions.split(','));
}

/** The record bytes of an id, or 'unusable'. */
export function recordId(id: string): Uint8Array | null {
  const b = String.UTF8.encode(id);
  if (!isUsableId(b)) return null;
  return idBytes(b);
}

export function newUuid(seed: u64): string {
  const rng = new Rng(seed);
  const raw = new Uint8Array(16);
  for (let i = 0; i < 16; i++) raw[i] = <u8>rng.next();
  return String.UTF8.decode(uuidV4(raw));
}

/** Shadow headers for `keys`/`values` (joined by '\n'), as "k: v" lines, or 'null'. */
export function shadowHeaders(keys: string, values: string, strip: string, id: string): string {
  const pairs = serializePairs(keys.split('\n'), values.split('\n'));
  const idBuf = String.UTF8.encode(id);
  const out = buildShadowHeaders(
    pairs,
    shadowDropSet(strip.split(',')),
    changetype<usize>(idBuf),
    <u32>idBuf.byteLength,
  );
  if (out === null) return 'null';
  const o = changetype<ArrayBuffer>(out);
  const names = [
    'x-umbra-shadow',
    'x-request-id',
    ':method',
    ':path',
    ':authority',
    'authorization',
    'cookie',
    'x-keep',
    'content-length',
  ];
  let s = '';
  for (let i = 0; i < names.length; i++) {
    const v = findPair(o, names[i]);
    if (v !== null) s += names[i] + ': ' + v + '\n';
  }
  return s + 'count: ' + load<u32>(changetype<usize>(o)).toString();
}

/** "sequence,kind,percentage" or 'null'. */
export function control(bytes: Uint8Array): string {
  const c = decodeControl(bytes.dataStart, bytes.length);
  if (c === null) return 'null';
  return c.sequence.toString() + ',' + c.kind.toString() + ',' + c.shadowPercentage.toString();
}

/** The split share a Control carries (-1 when the bytes are not a valid message). */
export function controlSplit(bytes: Uint8Array): f64 {
  const c = decodeControl(bytes.dataStart, bytes.length);
  return c === null ? -1 : c.splitPercentage;
}

export function localReplyFlags(body: string): u32 {
  const b = String.UTF8.encode(body);
  return classifyLocalReply(changetype<usize>(b), <u32>b.byteLength);
}

const counts = new Counts();
const dict = new Dictionary();
let buffer = new RecordBuffer(4);
const meta = new BatchMeta();

/** Resets the telemetry state with a ring of `capacity` records. */
export function resetTelemetry(capacity: i32): void {
  buffer = new RecordBuffer(capacity);
  meta.proxyId = 'node-1';
  meta.worker = 7;
  meta.service = 'shop';
}

/** Adds a record (endpoint/segment/cluster by name). Answers dropped so far. */
export function addRecord(
  id: string,
  arm: i32,
  endpoint: string,
  segment: string,
  cluster: string,
  startUs: i64,
  status: u32,
): u64 {
  const r = buffer.next(startUs, counts);
  r.requestId = idBytes(String.UTF8.encode(id));
  r.arm = <Arm>arm;
  r.endpoint = dict.intern(endpoint);
  r.segment = dict.intern(segment);
  r.cluster = dict.intern(cluster);
  r.status = status;
  r.latencyUs = 1234;
  r.responseBytes = 42;
  r.bodyHash = <i64>FNV_OFFSET;
  return counts.droppedRecords;
}

/** Encodes up to `max` records as a batch and removes them. */
export function takeBatch(sequence: u64, baseUs: i64, max: i32): Uint8Array {
  const n = min<i32>(buffer.count, max);
  const bytes = encodeBatch(meta, sequence, baseUs, counts, buffer, dict, max);
  buffer.shift(n);
  return bytes;
}

/** A new stream: dictionary entries are announced again. */
export function newStream(): void {
  dict.resetStream();
}

export function buffered(): i32 {
  return buffer.count;
}
