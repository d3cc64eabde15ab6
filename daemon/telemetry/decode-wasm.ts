/**
 * The WebAssembly fast path of the batch decoder (daemon/telemetry/wasm/
 * records.ts): decodes runs of ordinary records about twice as fast as the
 * JavaScript fast path, and declines everything else, which the JavaScript
 * decoder then reads (and reports errors for) as before. Same columns either
 * way; a test decodes the same batches both ways and compares.
 *
 * One module instance per process, made on first use; `decodeBatch` is not
 * re-entrant, so neither is this. Without WebAssembly the decoder simply
 * never takes this path.
 */
import { RECORDS_WASM_BASE64 } from './generated/records-wasm.js';

/** The decoded columns, as filled by the caller (BatchColumns fits). */
export interface RecordColumns {
  idOff: Int32Array;
  idLen: Int32Array;
  idH1: Int32Array;
  idH2: Int32Array;
  arm: Uint8Array;
  endpoint: Uint32Array;
  segment: Uint32Array;
  startDeltaUs: Float64Array;
  latencyUs: Uint32Array;
  status: Uint32Array;
  flags: Uint32Array;
  responseBytes: Float64Array;
  hashLo: Int32Array;
  hashHi: Int32Array;
  cluster: Uint32Array;
  user: Uint32Array;
  outcomeMilli: Uint32Array;
  grow(n: number): void;
}

interface Exports {
  memory: WebAssembly.Memory;
  run(pos: number, end: number, count: number, maxId: number, maxRecords: number): void;
  outPos: WebAssembly.Global;
  outCount: WebAssembly.Global;
  IN_CAP: WebAssembly.Global;
  MAXR: WebAssembly.Global;
  [column: string]: unknown;
}

interface FastPath {
  run: Exports['run'];
  outPos: WebAssembly.Global;
  outCount: WebAssembly.Global;
  bytes: Uint8Array;
  inCap: number;
  maxRecords: number;
  /** Views of the module's column memory, one per RecordColumns field. */
  cols: Omit<RecordColumns, 'grow'>;
}

let fast: FastPath | null | undefined;
let enabled = true;

/** Turns the fast path off or on (tests compare both; default on). */
export function setWasmDecoding(on: boolean): void {
  enabled = on;
}

function instantiate(): FastPath | null {
  if (typeof WebAssembly === 'undefined') return null;
  const module = new WebAssembly.Module(Buffer.from(RECORDS_WASM_BASE64, 'base64'));
  const ex = new WebAssembly.Instance(module, {}).exports as unknown as Exports;
  const buf = ex.memory.buffer;
  const n = ex.MAXR.value as number;
  const at = (name: string): number => (ex[name] as WebAssembly.Global).value as number;
  return {
    run: ex.run,
    outPos: ex.outPos,
    outCount: ex.outCount,
    bytes: new Uint8Array(buf),
    inCap: ex.IN_CAP.value as number,
    maxRecords: n,
    cols: {
      idOff: new Int32Array(buf, at('C_IDOFF'), n),
      idLen: new Int32Array(buf, at('C_IDLEN'), n),
      idH1: new Int32Array(buf, at('C_H1'), n),
      idH2: new Int32Array(buf, at('C_H2'), n),
      arm: new Uint8Array(buf, at('C_ARM'), n),
      endpoint: new Uint32Array(buf, at('C_EP'), n),
      segment: new Uint32Array(buf, at('C_SEG'), n),
      startDeltaUs: new Float64Array(buf, at('C_START'), n),
      latencyUs: new Uint32Array(buf, at('C_LAT'), n),
      status: new Uint32Array(buf, at('C_STATUS'), n),
      flags: new Uint32Array(buf, at('C_FLAGS'), n),
      responseBytes: new Float64Array(buf, at('C_BYTES'), n),
      hashLo: new Int32Array(buf, at('C_HLO'), n),
      hashHi: new Int32Array(buf, at('C_HHI'), n),
      cluster: new Uint32Array(buf, at('C_CLUSTER'), n),
      user: new Uint32Array(buf, at('C_USER'), n),
      outcomeMilli: new Uint32Array(buf, at('C_OUTCOME'), n),
    },
  };
}

/**
 * Prepares a batch for {@link decodeRecordRun}: copies it into the module's
 * memory. False when the fast path is off, unavailable, or the batch is too
 * large for it (the caller then decodes in JavaScript only).
 */
export function loadBatch(input: Uint8Array): boolean {
  if (!enabled) return false;
  if (fast === undefined) {
    try {
      fast = instantiate();
    } catch {
      // A module that will not load (no WebAssembly here, a bad build) leaves the JavaScript decoder.
      fast = null;
    }
  }
  if (fast === null || input.length > fast.inCap) return false;
  fast.bytes.set(input, 0);
  return true;
}

/**
 * Decodes the run of ordinary records that starts at byte `pos` of the batch
 * last loaded (ending before `end`) into `out` from index `count`, up to
 * `maxRecords` in all. Returns the byte where it stopped (the next field, or
 * a record it declined), or `pos` when it decoded nothing; the new count is
 * then {@link lastRunCount}.
 */
export function decodeRecordRun(
  out: RecordColumns,
  pos: number,
  end: number,
  count: number,
  maxIdBytes: number,
  maxRecords: number,
): number {
  const f = fast!;
  f.run(pos, end, count, maxIdBytes, Math.min(maxRecords, f.maxRecords));
  const stop = f.outPos.value as number;
  const n = f.outCount.value as number;
  lastRunCount = n;
  if (n === count) return pos;
  out.grow(n);
  const c = f.cols;
  out.idOff.set(c.idOff.subarray(count, n), count);
  out.idLen.set(c.idLen.subarray(count, n), count);
  out.idH1.set(c.idH1.subarray(count, n), count);
  out.idH2.set(c.idH2.subarray(count, n), count);
  out.arm.set(c.arm.subarray(count, n), count);
  out.endpoint.set(c.endpoint.subarray(count, n), count);
  out.segment.set(c.segment.subarray(count, n), count);
  out.startDeltaUs.set(c.startDeltaUs.subarray(count, n), count);
  out.latencyUs.set(c.latencyUs.subarray(count, n), count);
  out.status.set(c.status.subarray(count, n), count);
  out.flags.set(c.flags.subarray(count, n), count);
  out.responseBytes.set(c.responseBytes.subarray(count, n), count);
  out.hashLo.set(c.hashLo.subarray(count, n), count);
  out.hashHi.set(c.hashHi.subarray(count, n), count);
  out.cluster.set(c.cluster.subarray(count, n), count);
  out.user.set(c.user.subarray(count, n), count);
  out.outcomeMilli.set(c.outcomeMilli.subarray(count, n), count);
  return stop;
}

/** The record count after the last {@link decodeRecordRun}. */
export let lastRunCount = 0;
