/**
 * A small real gRPC server for the filter's tests: implements
 * umbra.telemetry.v1.Telemetry/Stream from proto/, keeps every batch it
 * receives, resolves dictionary ids per stream, and can send Control messages
 * down the open streams.
 */
import * as grpc from '@grpc/grpc-js';
import { type Cleanup, retryInUse, telemetryPackage } from '../../harness/index.js';

export interface WireRecord {
  requestId: Buffer;
  arm: string;
  endpoint: number;
  segment: number;
  startDeltaUs: string;
  latencyUs: number;
  status: number;
  flags: number;
  responseBytes: string;
  bodyHash: string;
  cluster: number;
  user: number;
  outcomeMilli: number;
}

export interface WireBatch {
  schemaVersion: number;
  proxyId: string;
  worker: number;
  service: string;
  sequence: string;
  baseTimeUs: string;
  dict: { id: number; value: string }[];
  counters: Record<string, string> | null;
  records: WireRecord[];
}

/** A record with its dictionary ids resolved and numbers made numbers. */
export interface SeenRecord {
  requestId: string;
  arm: string;
  endpoint: string;
  segment: string;
  cluster: string;
  startUs: number;
  latencyUs: number;
  status: number;
  flags: number;
  responseBytes: number;
  bodyHash: bigint;
  /** A/B split: the user's 32-bit id (0: none) and the outcome in thousandths. */
  user: number;
  outcomeMilli: number;
  worker: number;
  proxyId: string;
  service: string;
}

export interface TelemetryServer {
  port: number;
  batches: WireBatch[];
  records: SeenRecord[];
  /** Streams opened so far. */
  streams: number;
  /** Sends a Control to every open stream; answers how many got it. */
  control(
    kind: 'CONTROL_SET_PERCENTAGE' | 'CONTROL_PAUSE' | 'CONTROL_RESUME' | 'CONTROL_SET_SPLIT',
    pct?: number,
  ): number;
  /** Acknowledges batches up to `sequence` on every open stream (CONTROL_ACK). */
  ack(sequence: number): number;
  /** The latest counters seen (any worker), as numbers. */
  counters(): Record<string, number>;
  close(): Promise<void>;
}

/** Formats a record id like the daemon would: a UUID when it has 16 bytes. */
export function idText(b: Buffer): string {
  if (b.length !== 16) return b.toString('utf8');
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export async function startTelemetryServer(t: Cleanup | undefined, port = 0): Promise<TelemetryServer> {
  const pkg = telemetryPackage({ longs: String, enums: String, bytes: Buffer, defaults: true });
  const service = pkg.umbra.telemetry.v1.Telemetry.service;
  const server = new grpc.Server();
  const calls = new Set<grpc.ServerDuplexStream<WireBatch, unknown>>();
  const controlSeq = new Map<object, number>();
  let latestCounters: Record<string, string> = {};
  const ts: TelemetryServer = {
    port: 0,
    batches: [],
    records: [],
    streams: 0,
    control(kind, pct = 0) {
      let n = 0;
      for (const call of calls) {
        const seq = (controlSeq.get(call) ?? 0) + 1;
        controlSeq.set(call, seq);
        const value = kind === 'CONTROL_SET_SPLIT' ? { splitPercentage: pct } : { shadowPercentage: pct };
        call.write({ sequence: seq, kind, ...value });
        n++;
      }
      return n;
    },
    ack(sequence) {
      for (const call of calls) call.write({ sequence: 0, kind: 'CONTROL_ACK', ackedSequence: sequence });
      return calls.size;
    },
    counters() {
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(latestCounters)) out[k] = Number(v);
      return out;
    },
    close: async () => {},
  };
  server.addService(service, {
    Stream(call: grpc.ServerDuplexStream<WireBatch, unknown>) {
      ts.streams++;
      calls.add(call);
      const dict = new Map<number, string>();
      call.sendMetadata(new grpc.Metadata());
      call.on('data', (b: WireBatch) => {
        ts.batches.push(b);
        if (b.counters) latestCounters = b.counters;
        for (const e of b.dict) dict.set(e.id, e.value);
        const base = Number(b.baseTimeUs);
        for (const r of b.records) {
          ts.records.push({
            requestId: idText(r.requestId),
            arm: r.arm,
            endpoint: dict.get(r.endpoint) ?? '',
            segment: dict.get(r.segment) ?? '',
            cluster: dict.get(r.cluster) ?? '',
            startUs: base + Number(r.startDeltaUs),
            latencyUs: r.latencyUs,
            status: r.status,
            flags: r.flags,
            responseBytes: Number(r.responseBytes),
            bodyHash: BigInt.asUintN(64, BigInt(r.bodyHash)),
            user: r.user ?? 0,
            outcomeMilli: r.outcomeMilli ?? 0,
            worker: b.worker,
            proxyId: b.proxyId,
            service: b.service,
          });
        }
      });
      const done = (): void => {
        calls.delete(call);
      };
      call.on('end', () => {
        done();
        call.end();
      });
      call.on('error', done);
      call.on('cancelled', done);
    },
  });
  // A named port (the filter was pointed at it before) may still be held a moment: retried then.
  ts.port = await retryInUse(
    `the telemetry server on port ${port}`,
    () =>
      new Promise<number>((resolve, reject) => {
        server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
          err ? reject(err) : resolve(p),
        );
      }),
  );
  let closed = false;
  ts.close = async () => {
    if (closed) return;
    closed = true;
    for (const c of calls) c.destroy();
    server.forceShutdown();
  };
  t?.after(() => ts.close());
  return ts;
}

/** FNV-1a 64 of a buffer (what the filter reports as body_hash). */
export function fnv1a64(b: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of b) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}
