/**
 * A hostile telemetry client: it speaks `umbra.telemetry.v1.Telemetry/Stream`
 * from proto/ with @grpc/grpc-js (proto-loader serializes, as any client built
 * from the published proto would) and forges mirrored pairs.
 *
 * It tries, on separate streams, what an attacker who reaches the telemetry
 * port can do without a proxy's own identity:
 *   - `plaintext`: no TLS at all, naming the real proxy id and service;
 *   - `no-client-cert`: TLS that trusts the daemon, but no client certificate;
 *   - `unknown-proxy`: a client certificate of the fleet's CA (any other
 *     workload may hold one) and a proxy id the daemon never configured.
 * Each tick's forged pairs go to the next stream that is still open, so the
 * whole rate flows through whatever path the daemon leaves open.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { TestPki } from '../../test/harness/index.js';
import { TEST_SERVER_NAME, telemetryPackage } from '../../test/harness/index.js';

const ARM_PRIMARY = 1;
const ARM_CANDIDATE = 2;

/** Which way forged pairs lean. */
export type ForgeryKind =
  /** Production answers 200, the candidate 503: a healthy candidate looks broken. */
  | 'candidate-fails'
  /** Production answers 503, the candidate 200: a broken candidate looks better than production. */
  | 'candidate-better';

export interface ForgerOptions {
  port: number;
  pki: TestPki;
  /** The proxy id the real Envoy uses (the no-identity attempts name it). */
  nodeId: string;
  service: string;
}

interface Attempt {
  name: string;
  proxyId: string;
  client: StreamClient;
  /** The stream, once {@link Forger.open} ran. */
  call?: grpc.ClientDuplexStream<unknown, unknown>;
  open: boolean;
  sequence: number;
  /** Batches the daemon acknowledged (CONTROL_ACK): proof that it accepted them. */
  acked: number;
  error: string;
}

type StreamClient = grpc.Client & { Stream(): grpc.ClientDuplexStream<unknown, unknown> };
type StreamClientConstructor = new (
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => StreamClient;

/**
 * A client of the published proto whose Stream also takes a batch already
 * serialized (a Buffer), so a large batch can be built before the race it is
 * sent in.
 */
function clientConstructor(): { Client: StreamClientConstructor; serialize: (batch: object) => Buffer } {
  const pkg = telemetryPackage({ longs: Number, enums: Number, defaults: true });
  const stream = pkg.umbra.telemetry.v1.Telemetry.service['Stream']!;
  const serialize = stream.requestSerialize as (batch: object) => Buffer;
  const service = {
    Stream: { ...stream, requestSerialize: (b: object) => (Buffer.isBuffer(b) ? b : serialize(b)) },
  };
  return {
    Client: grpc.makeGenericClientConstructor(service, 'Telemetry') as unknown as StreamClientConstructor,
    serialize,
  };
}

/** What each attempt achieved: batches acknowledged by the daemon, and how its stream ended. */
export interface AttemptReport {
  name: string;
  acked: number;
  error: string;
}

export class Forger {
  readonly #attempts: Attempt[] = [];
  readonly #serialize: (batch: object) => Buffer;
  #next = 0;

  /** Makes the clients; no stream is opened before {@link open}. */
  constructor(readonly o: ForgerOptions) {
    const { Client, serialize } = clientConstructor();
    this.#serialize = serialize;
    const ca = readFileSync(o.pki.ca.certFile);
    const tlsOpts = { 'grpc.ssl_target_name_override': TEST_SERVER_NAME };
    const plans: { name: string; proxyId: string; creds: grpc.ChannelCredentials }[] = [
      { name: 'plaintext', proxyId: o.nodeId, creds: grpc.credentials.createInsecure() },
      { name: 'no-client-cert', proxyId: o.nodeId, creds: grpc.credentials.createSsl(ca) },
      {
        name: 'unknown-proxy',
        proxyId: 'intruder-edge',
        creds: grpc.credentials.createSsl(
          ca,
          readFileSync(o.pki.client.keyFile),
          readFileSync(o.pki.client.certFile),
        ),
      },
    ];
    for (const p of plans) {
      const client = new Client(`127.0.0.1:${o.port}`, p.creds, tlsOpts);
      this.#attempts.push({ ...p, client, open: false, sequence: 0, acked: 0, error: '' });
    }
  }

  /** Opens one stream per attempt. */
  open(): this {
    for (const a of this.#attempts) {
      const call = a.client.Stream();
      a.call = call;
      a.open = true;
      call.on('data', (c: { kind?: number; ackedSequence?: number }) => {
        if (c.kind === 4) a.acked = Math.max(a.acked, Number(c.ackedSequence ?? 0));
      });
      call.on('error', (err: grpc.ServiceError) => {
        a.open = false;
        // The first line of the reason is enough to tell a refused handshake from a refused stream.
        const why = (err.details ?? '')
          .split('\n')[0]!
          .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)\.?\s*Resolution note:.*$/, '');
        a.error = `${grpc.status[err.code] ?? err.code}: ${why.slice(0, 160)}`;
      });
      call.on('end', () => {
        a.open = false;
      });
    }
    return this;
  }

  /** Sends `pairs` forged pairs on the next open stream; false when every stream is closed. */
  sendPairs(pairs: number, kind: ForgeryKind): boolean {
    const a = this.#nextOpen();
    if (!a) return false;
    const [primaryStatus, candidateStatus] = kind === 'candidate-fails' ? [200, 503] : [503, 200];
    const records: Record<string, unknown>[] = [];
    for (let i = 0; i < pairs; i++) {
      const requestId = randomBytes(16);
      const common = { requestId, endpoint: 1, segment: 2, startDeltaUs: -i * 1000, latencyUs: 3000 };
      records.push({ ...common, arm: ARM_PRIMARY, status: primaryStatus, responseBytes: 120 });
      records.push({ ...common, arm: ARM_CANDIDATE, status: candidateStatus, responseBytes: 40 });
    }
    this.#write(
      a,
      [
        { id: 1, value: '/cart' },
        { id: 2, value: 'eu' },
      ],
      records,
    );
    return true;
  }

  /**
   * The flood of junk series, built and serialized ahead (it is sent in a
   * race): per attempt, the first batch of its stream, naming `endpoints ×
   * segments` distinct series with one record each. The series are products
   * of a few hundred dictionary strings, so the batch stays within the
   * per-batch dictionary limit.
   */
  prepareFlood(endpoints: number, segments: number): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const a of this.#attempts) {
      const dict: { id: number; value: string }[] = [];
      for (let e = 0; e < endpoints; e++) dict.push({ id: e + 1, value: `/junk-${a.name}-${e}` });
      for (let g = 0; g < segments; g++) dict.push({ id: endpoints + g + 1, value: `seg-${g}` });
      const records: Record<string, unknown>[] = [];
      for (let e = 0; e < endpoints; e++) {
        for (let g = 0; g < segments; g++) {
          records.push({
            requestId: randomBytes(16),
            arm: ARM_PRIMARY,
            endpoint: e + 1,
            segment: endpoints + g + 1,
            latencyUs: 1000,
            status: 200,
          });
        }
      }
      out.set(a.name, this.#serialize(this.#batch(a.proxyId, 1, dict, records)));
    }
    return out;
  }

  /** Sends each open stream its prepared first batch. */
  sendPrepared(batches: Map<string, Buffer>): void {
    for (const a of this.#attempts) {
      const bytes = batches.get(a.name);
      if (!a.open || !a.call || !bytes || a.sequence !== 0) continue;
      a.sequence = 1;
      a.call.write(bytes);
    }
  }

  report(): AttemptReport[] {
    return this.#attempts.map((a) => ({ name: a.name, acked: a.acked, error: a.error }));
  }

  close(): void {
    for (const a of this.#attempts) {
      try {
        a.call?.end();
      } catch {
        // already closed
      }
      a.client.close();
    }
  }

  #nextOpen(): Attempt | undefined {
    for (let k = 0; k < this.#attempts.length; k++) {
      const a = this.#attempts[(this.#next + k) % this.#attempts.length]!;
      if (a.open) {
        this.#next = (this.#next + k + 1) % this.#attempts.length;
        return a;
      }
    }
    return undefined;
  }

  #write(a: Attempt, dict: { id: number; value: string }[], records: Record<string, unknown>[]): void {
    a.call?.write(this.#batch(a.proxyId, ++a.sequence, dict, records));
  }

  #batch(
    proxyId: string,
    sequence: number,
    dict: { id: number; value: string }[],
    records: Record<string, unknown>[],
  ): object {
    // NOTE: dictionary ids are per stream (telemetry.proto DictEntry); resending them each batch is allowed.
    return {
      schemaVersion: 1,
      proxyId,
      worker: 0,
      service: this.o.service,
      sequence,
      baseTimeUs: Date.now() * 1000,
      dict,
      counters: { requests: sequence * records.length, mirrored: (sequence * records.length) / 2 },
      records,
    };
  }
}

/**
 * Sends about `pairsPerSecond` forged pairs a second (5 batches a second)
 * until the returned stop function is called.
 */
export function forgeAtRate(forger: Forger, pairsPerSecond: number, kind: ForgeryKind): () => void {
  const perBatch = Math.max(1, Math.round(pairsPerSecond / 5));
  const timer = setInterval(() => forger.sendPairs(perBatch, kind), 200);
  return () => clearInterval(timer);
}
