/**
 * JSON lines input for `umbra replay`: one record per line, as documented in
 * docs/replay-format.md. Each valid line becomes a one-record Batch on a
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

const ARMS: Record<string, number> = {
  primary: ARM_PRIMARY,
  candidate: ARM_CANDIDATE,
  baseline: ARM_BASELINE,
  live: ARM_LIVE,
};

const FLAGS: Record<string, number> = {
  timeout: FLAG_TIMEOUT,
  reset: FLAG_RESET,
  connect_failure: FLAG_CONNECT_FAILURE,
  body_truncated: FLAG_BODY_TRUNCATED,
  generated_id: FLAG_GENERATED_ID,
  mirror_abandoned: FLAG_MIRROR_ABANDONED,
};

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

/** Converts lines to batches; keeps per-stream dictionaries between lines. */
export class JsonLinesSource {
  private readonly streams = new Map<string, StreamInfo>();
  private nextStream = 1;

  /** Parses one line; an error message (naming the field) for a bad one, null for a blank line. */
  line(text: string): LineBatch | string | null {
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
    const arm = ARMS[String(r['arm'])];
    if (arm === undefined) return 'arm: must be primary, candidate, baseline or live';
    if (r['status'] !== undefined && !nonNegInt(r['status'], 999)) return 'status: must be an integer 0..999';
    if (r['latency_us'] !== undefined && !nonNegInt(r['latency_us'], 0xffffffff)) {
      return 'latency_us: must be an integer 0..4294967295';
    }
    if (r['bytes'] !== undefined && !nonNegInt(r['bytes'], Number.MAX_SAFE_INTEGER)) {
      return 'bytes: must be an integer ≥ 0';
    }
    for (const k of ['proxy', 'segment', 'cluster'] as const) {
      if (r[k] !== undefined && typeof r[k] !== 'string') return `${k}: must be a string`;
    }
    if (r['worker'] !== undefined && !nonNegInt(r['worker'], 0xffffffff))
      return 'worker: must be an integer ≥ 0';
    if (
      r['start_us'] !== undefined &&
      (typeof r['start_us'] !== 'number' || !Number.isFinite(r['start_us']))
    ) {
      return 'start_us: must be a number';
    }
    let flags = 0;
    const f = r['flags'];
    if (Array.isArray(f)) {
      for (const [i, name] of f.entries()) {
        const bit = FLAGS[String(name)];
        if (bit === undefined) return `flags[${i}]: must be one of ${Object.keys(FLAGS).join(', ')}`;
        flags |= bit;
      }
    } else if (f !== undefined) return 'flags: must be a list of flag names';
    let hashLo = 0;
    let hashHi = 0;
    const h = r['body_hash'];
    // An empty string is a producer's way of saying "no hash" (a failed arm, no body): the same as leaving it out.
    if (h !== undefined && h !== '') {
      if (typeof h !== 'string' || !/^[0-9a-f]{1,16}$/i.test(h))
        return 'body_hash: must be up to 16 hex digits';
      const padded = h.padStart(16, '0');
      hashHi = Number.parseInt(padded.slice(0, 8), 16) | 0;
      hashLo = Number.parseInt(padded.slice(8), 16) | 0;
    }

    const service = r['service'] as string;
    const proxy = (r['proxy'] as string | undefined) ?? 'replay';
    const worker = (r['worker'] as number | undefined) ?? 0;
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
    const tUs = r['t_us'] as number;
    const latencyUs = (r['latency_us'] as number | undefined) ?? 0;
    const startUs = (r['start_us'] as number | undefined) ?? tUs - latencyUs;
    const endpoint = ref(r['endpoint'] as string);
    const segment = ref(r['segment'] as string | undefined);
    const cluster = ref(r['cluster'] as string | undefined);
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
          requestId: requestIdBytes(r['request_id'] as string),
          arm,
          endpoint,
          segment,
          startDeltaUs: Math.round(startUs),
          latencyUs,
          status: (r['status'] as number | undefined) ?? 0,
          flags,
          responseBytes: (r['bytes'] as number | undefined) ?? 0,
          hashLo,
          hashHi,
          cluster,
        },
      ],
    });
    return { streamId: st.id, arrivalUs: tUs, bytes, opensStream };
  }
}
