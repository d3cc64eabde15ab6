/**
 * JSON lines input for `umbra replay`, `umbra model train --from` and the
 * judge's scenario suite: one record per line, as documented in
 * docs/replay-format.md. {@link parseJsonLine} is the format's only parser;
 * {@link JsonLinesSource} turns each valid line into a one-record Batch on a
 * stream per (proxy, worker, service), with dictionary entries sent the
 * first time a string is used, so it takes exactly the path of a received
 * batch. Validation returns errors naming the field; unknown fields are
 * ignored.
 */

import { encodeBatch } from '../telemetry/encode.js';
import {
  ARM_BASELINE,
  ARM_CANDIDATE,
  ARM_LIVE,
  ARM_PRIMARY,
  FLAG_BODY_TRUNCATED,
  FLAG_CONNECT_FAILURE,
  FLAG_GENERATED_ID,
  FLAG_MIRROR_ABANDONED,
  FLAG_RESET,
  FLAG_TIMEOUT,
} from '../wire/record-contract.js';

/** The `arm` values of a line. */
export type ArmName = 'primary' | 'candidate' | 'baseline' | 'live';

const ARMS: Record<ArmName, number> = {
  primary: ARM_PRIMARY,
  candidate: ARM_CANDIDATE,
  baseline: ARM_BASELINE,
  live: ARM_LIVE,
};

/** The `flags` names of a line. */
export type FlagName =
  | 'timeout'
  | 'reset'
  | 'connect_failure'
  | 'body_truncated'
  | 'generated_id'
  | 'mirror_abandoned';

const FLAGS: Record<FlagName, number> = {
  timeout: FLAG_TIMEOUT,
  reset: FLAG_RESET,
  connect_failure: FLAG_CONNECT_FAILURE,
  body_truncated: FLAG_BODY_TRUNCATED,
  generated_id: FLAG_GENERATED_ID,
  mirror_abandoned: FLAG_MIRROR_ABANDONED,
};

/**
 * One line of the format, as a producer writes it and as {@link parseJsonLine}
 * returns it (known fields only). Fields left out take the defaults of
 * docs/replay-format.md when the line is turned into a batch.
 */
export interface JsonLineRecord {
  /** When the record reached the daemon, µs from the start of the file; the replay clock. */
  t_us: number;
  /** When the request started, µs from the start of the file (default t_us − latency_us). */
  start_us?: number;
  proxy?: string;
  worker?: number;
  service: string;
  request_id: string;
  arm: ArmName;
  endpoint: string;
  segment?: string;
  /** HTTP status, 0 for no response. */
  status: number;
  latency_us: number;
  bytes?: number;
  /** Up to 16 hex digits; "" means no hash, the same as leaving it out. */
  body_hash?: string;
  flags?: FlagName[];
  cluster?: string;
}

/** A line turned into a batch: which stream it belongs to and when it arrived. */
export interface LineBatch {
  streamId: number;
  /** Arrival time on the replay clock, µs (the line's t_us). */
  arrivalUs: number;
  bytes: Uint8Array;
  /** True for the first batch of a new stream. */
  opensStream: boolean;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Request id bytes as the filter sends them: 16 raw bytes for a UUID, else UTF-8 (cut to 64). */
export function requestIdBytes(id: string): Uint8Array {
  if (UUID.test(id)) return Buffer.from(id.replaceAll('-', ''), 'hex');
  return Buffer.from(id, 'utf8').subarray(0, 64);
}

function nonNegInt(v: unknown, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

interface StreamInfo {
  id: number;
  dict: Map<string, number>;
  sequence: number;
}

function isArm(v: unknown): v is ArmName {
  return typeof v === 'string' && Object.hasOwn(ARMS, v);
}

function isFlag(v: unknown): v is FlagName {
  return typeof v === 'string' && Object.hasOwn(FLAGS, v);
}

/**
 * Parses and validates one line: the record (known fields only), an error
 * message naming the field for a bad line (the caller adds the line number),
 * or null for a blank line.
 */
export function parseJsonLine(text: string): JsonLineRecord | string | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  let o: unknown;
  try {
    o = JSON.parse(trimmed);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'must be a JSON object';
  const r = o as Record<string, unknown>;
  if (typeof r['t_us'] !== 'number' || !Number.isFinite(r['t_us']) || r['t_us'] < 0) {
    return 't_us: must be a number of µs ≥ 0';
  }
  for (const k of ['service', 'request_id', 'endpoint'] as const) {
    if (typeof r[k] !== 'string' || r[k] === '') return `${k}: must be a non-empty string`;
  }
  const arm = r['arm'];
  if (!isArm(arm)) return 'arm: must be primary, candidate, baseline or live';
  // Required, unlike the wire's proto3 fields: a line that leaves out how the request ended would read
  // as status 0 (no response, a failure) and latency 0, and missing data is never evidence.
  if (!nonNegInt(r['status'], 999)) return 'status: must be an integer 0..999';
  if (!nonNegInt(r['latency_us'], 0xffffffff)) return 'latency_us: must be an integer 0..4294967295';
  if (r['bytes'] !== undefined && !nonNegInt(r['bytes'], Number.MAX_SAFE_INTEGER)) {
    return 'bytes: must be an integer ≥ 0';
  }
  for (const k of ['proxy', 'segment', 'cluster'] as const) {
    if (r[k] !== undefined && typeof r[k] !== 'string') return `${k}: must be a string`;
  }
  if (r['worker'] !== undefined && !nonNegInt(r['worker'], 0xffffffff))
    return 'worker: must be an integer ≥ 0';
  if (r['start_us'] !== undefined && (typeof r['start_us'] !== 'number' || !Number.isFinite(r['start_us']))) {
    return 'start_us: must be a number';
  }
  const f = r['flags'];
  if (Array.isArray(f)) {
    for (const [i, name] of f.entries()) {
      if (!isFlag(name)) return `flags[${i}]: must be one of ${Object.keys(FLAGS).join(', ')}`;
    }
  } else if (f !== undefined) return 'flags: must be a list of flag names';
  const h = r['body_hash'];
  if (h !== undefined && h !== '' && (typeof h !== 'string' || !/^[0-9a-f]{1,16}$/i.test(h))) {
    return 'body_hash: must be up to 16 hex digits';
  }
  const record: JsonLineRecord = {
    t_us: r['t_us'],
    service: r['service'] as string,
    request_id: r['request_id'] as string,
    arm,
    endpoint: r['endpoint'] as string,
    status: r['status'] as number,
    latency_us: r['latency_us'] as number,
  };
  for (const k of ['start_us', 'worker', 'bytes'] as const) {
    if (r[k] !== undefined) record[k] = r[k] as number;
  }
  for (const k of ['proxy', 'segment', 'body_hash', 'cluster'] as const) {
    if (r[k] !== undefined) record[k] = r[k] as string;
  }
  if (f !== undefined) record.flags = f as FlagName[];
  return record;
}

/** Converts lines to batches; keeps per-stream dictionaries between lines. */
export class JsonLinesSource {
  private readonly streams = new Map<string, StreamInfo>();
  private nextStream = 1;

  /** Parses one line; an error message (naming the field) for a bad one, null for a blank line. */
  line(text: string): LineBatch | string | null {
    const r = parseJsonLine(text);
    if (r === null || typeof r === 'string') return r;
    return this.batch(r);
  }

  /** A valid record as the one-record batch of its stream (defaults of docs/replay-format.md). */
  private batch(r: JsonLineRecord): LineBatch {
    let flags = 0;
    for (const name of r.flags ?? []) flags |= FLAGS[name];
    let hashLo = 0;
    let hashHi = 0;
    // An empty string is a producer's way of saying "no hash" (a failed arm, no body): the same as leaving it out.
    if (r.body_hash !== undefined && r.body_hash !== '') {
      const padded = r.body_hash.padStart(16, '0');
      hashHi = Number.parseInt(padded.slice(0, 8), 16) | 0;
      hashLo = Number.parseInt(padded.slice(8), 16) | 0;
    }

    const service = r.service;
    const proxy = r.proxy ?? 'replay';
    const worker = r.worker ?? 0;
    const key = `${proxy}\u0000${worker}\u0000${service}`;
    let st = this.streams.get(key);
    const opensStream = st === undefined;
    if (!st) {
      st = { id: this.nextStream++, dict: new Map(), sequence: 0 };
      this.streams.set(key, st);
    }
    const dict: { id: number; value: string }[] = [];
    const ref = (s: string | undefined): number => {
      if (s === undefined || s === '') return 0;
      let id = st.dict.get(s);
      if (id === undefined) {
        id = st.dict.size + 1;
        st.dict.set(s, id);
        dict.push({ id, value: s });
      }
      return id;
    };
    const tUs = r.t_us;
    const startUs = r.start_us ?? tUs - r.latency_us;
    const endpoint = ref(r.endpoint);
    const segment = ref(r.segment);
    const cluster = ref(r.cluster);
    st.sequence++;
    const bytes = encodeBatch({
      proxyId: proxy,
      worker,
      service,
      sequence: st.sequence,
      // Start times are relative to the replay clock's zero.
      baseTimeUs: 0,
      dict,
      records: [
        {
          requestId: requestIdBytes(r.request_id),
          arm: ARMS[r.arm],
          endpoint,
          segment,
          startDeltaUs: Math.round(startUs),
          latencyUs: r.latency_us,
          status: r.status,
          flags,
          responseBytes: r.bytes ?? 0,
          hashLo,
          hashHi,
          cluster,
        },
      ],
    });
    return { streamId: st.id, arrivalUs: tUs, bytes, opensStream };
  }
}
