/**
 * The gRPC side of telemetry: `umbra.telemetry.v1.Telemetry/Stream`, one
 * bidirectional stream per Envoy worker. Batches go to {@link Ingest} as raw
 * bytes (the service definition comes from proto-loader, but the request
 * deserializer is replaced by the identity so the hot path decodes with the
 * hand-rolled decoder); Control messages go back on the same streams.
 *
 * Bad input: a refused batch is dropped and counted by Ingest; a stream that
 * sends only garbage (`maxConsecutiveRefusals` refused batches in a row) is
 * ended with INVALID_ARGUMENT; a stream beyond the stream cap is ended with
 * RESOURCE_EXHAUSTED. Nothing a client sends can throw out of a handler.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Tls } from '../config/schema.js';
import { serverCredentials } from '../config/tls.js';
import { logger } from '../log.js';
import { projectRoot } from '../platform/envoy-binary.js';
import { presentsToken } from '../platform/token-file.js';
import type { Ingest } from './ingest.js';

const log = logger('telemetry');

export const CONTROL_SET_PERCENTAGE = 1;
export const CONTROL_PAUSE = 2;
export const CONTROL_RESUME = 3;
export const CONTROL_ACK = 4;
export const CONTROL_SET_SPLIT = 5;

/**
 * The initial metadata key carrying the telemetry token. The filter sends it
 * through the GrpcService's `initial_metadata`, which Envoy adds to the
 * stream's request headers.
 */
export const TOKEN_METADATA = 'x-umbra-telemetry-token';

/** What the daemon wants a service's filters to do; replayed to streams that connect later. */
export interface ControlState {
  percentage?: number;
  paused?: boolean;
  /** Share of users an A/B split sends to B (0: none). */
  split?: number;
}

/** Sees every stream event and received batch (for `--record`); must not throw. */
export interface IngestTap {
  opened(streamId: number, nowUs: number): void;
  batch(streamId: number, bytes: Uint8Array, nowUs: number): void;
  closed(streamId: number, nowUs: number): void;
}

export interface TelemetryServerOptions {
  host: string;
  port: number;
  /** Largest batch processed, bytes; a larger one is dropped and counted (`oversized`), the stream stays. */
  maxBatchBytes: number;
  /** Largest message gRPC reads at all (a stream sending more is ended with RESOURCE_EXHAUSTED). */
  maxMessageBytes: number;
  maxConsecutiveRefusals: number;
  /** `daemon.telemetry.tls`: plaintext when absent; a file that cannot be used throws TlsFilesError. */
  tls?: Tls;
  /**
   * When set, a stream must present it as initial metadata
   * ({@link TOKEN_METADATA}); one that does not is ended with UNAUTHENTICATED
   * before anything it sends is read, and counted (`unauthenticated`).
   */
  token?: string;
  tap?: IngestTap;
  /** µs clock (virtual in tests). */
  now?: () => number;
}

export interface TelemetryServer {
  port: number;
  /** The token streams must present (for the filters' configuration), if any. */
  token?: string;
  /** Sets a service's mirrored percentage on every connected stream (and later ones). Returns streams reached. */
  setPercentage(service: string, percentage: number): number;
  pause(service: string): number;
  resume(service: string): number;
  /** Sets the share of users an A/B split sends to B (0 ends it) on every stream, now and later. */
  setSplit(service: string, percentage: number): number;
  control(service: string): ControlState;
  close(): Promise<void>;
}

type Call = grpc.ServerDuplexStream<Buffer, Record<string, unknown>>;

interface Conn {
  id: number;
  call: Call;
  service: string;
  controlSeq: number;
  refusedInARow: number;
}

/** µs since the Unix epoch with sub-millisecond resolution. */
export function wallClockUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function loadService(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync(`${projectRoot()}/proto/umbra/telemetry/v1/telemetry.proto`, {
    longs: Number,
    enums: Number,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    umbra: { telemetry: { v1: { Telemetry: grpc.ServiceClientConstructor } } };
  };
  const service = pkg.umbra.telemetry.v1.Telemetry.service;
  const stream = service['Stream']!;
  // Raw bytes in: the hand-rolled decoder is several times faster than a generic one.
  return { Stream: { ...stream, requestDeserialize: (b: Buffer) => b } } as grpc.ServiceDefinition;
}

export async function startTelemetryServer(
  ingest: Ingest,
  options: Partial<TelemetryServerOptions> & { host: string; port: number },
): Promise<TelemetryServer> {
  const o: TelemetryServerOptions = {
    maxBatchBytes: 4 << 20,
    maxMessageBytes: 16 << 20,
    maxConsecutiveRefusals: 10,
    ...options,
  };
  const now = o.now ?? wallClockUs;
  const conns = new Map<number, Conn>();
  const controls = new Map<string, ControlState>();
  let nextId = 1;

  const send = (c: Conn, kind: number, percentage = 0): void => {
    try {
      const value =
        kind === CONTROL_SET_SPLIT ? { splitPercentage: percentage } : { shadowPercentage: percentage };
      c.call.write({ sequence: ++c.controlSeq, kind, ...value });
    } catch (err) {
      log.warn('control send failed', { stream: c.id, error: err as Error });
    }
  };
  // Flow control (telemetry.proto CONTROL_ACK): every handled batch is
  // acknowledged, so a filter never has more than its maxUnackedBatches in
  // flight towards a daemon that falls behind.
  const ack = (c: Conn, sequence: number): void => {
    try {
      c.call.write({ sequence: 0, kind: CONTROL_ACK, ackedSequence: sequence });
    } catch (err) {
      log.warn('control send failed', { stream: c.id, error: err as Error });
    }
  };
  // NOTE: a filter keeps what it was told across its streams, and a stream
  // may come from another daemon (several daemons, docs/ha.md) that told it
  // to pause or to split: a resume and a split of 0 are replayed too.
  const replayControl = (c: Conn): void => {
    const st = controls.get(c.service);
    if (!st) return;
    if (st.percentage !== undefined) send(c, CONTROL_SET_PERCENTAGE, st.percentage);
    if (st.paused !== undefined) send(c, st.paused ? CONTROL_PAUSE : CONTROL_RESUME);
    if (st.split !== undefined) send(c, CONTROL_SET_SPLIT, st.split);
  };

  const handler = (call: Call): void => {
    const id = nextId++;
    const conn: Conn = { id, call, service: '', controlSeq: 0, refusedInARow: 0 };
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      conns.delete(id);
      ingest.closeStream(id);
      o.tap?.closed(id, now());
    };
    if (o.token !== undefined && !presentsToken(call.metadata, TOKEN_METADATA, o.token)) {
      ingest.refuse('unauthenticated', id, call.getPeer());
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'telemetry token missing or wrong' });
      closed = true;
      return;
    }
    if (!ingest.openStream(id)) {
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: 'too many telemetry streams' });
      closed = true;
      return;
    }
    conns.set(id, conn);
    o.tap?.opened(id, now());
    log.debug('stream opened', { stream: id, peer: call.getPeer() });
    call.on('data', (bytes: Buffer) => {
      if (closed) return;
      const t = now();
      o.tap?.batch(id, bytes, t);
      let res: ReturnType<Ingest['onBatch']>;
      try {
        res =
          bytes.length > o.maxBatchBytes
            ? ingest.refuse('oversized', id, `${bytes.length} bytes > ${o.maxBatchBytes}`)
            : ingest.onBatch(id, bytes, t);
      } catch (err) {
        // A bug, not bad input: keep the daemon up and the evidence.
        log.error('batch processing failed', { stream: id, error: err as Error });
        return;
      }
      if (res.ok) {
        conn.refusedInARow = 0;
        if (res.sequence !== 0) ack(conn, res.sequence);
        if (conn.service === '') {
          conn.service = res.service;
          log.info('stream identified', { stream: id, service: res.service, peer: call.getPeer() });
          replayControl(conn);
        }
        return;
      }
      if (++conn.refusedInARow >= o.maxConsecutiveRefusals) {
        log.warn('stream refused: only bad batches', { stream: id, last: res.reason, peer: call.getPeer() });
        close();
        call.emit('error', {
          code: grpc.status.INVALID_ARGUMENT,
          details: `${conn.refusedInARow} bad batches in a row (last: ${res.reason})`,
        });
      }
    });
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('error', (err: Partial<grpc.StatusObject>) => {
      // NOTE: grpc-js ends the call with RESOURCE_EXHAUSTED itself when a message exceeds
      // grpc.max_receive_message_length; the handler only sees this error.
      if (err.code === grpc.status.RESOURCE_EXHAUSTED) ingest.refuse('oversized', id, err.details);
      else log.debug('stream error', { stream: id, code: err.code, details: err.details });
      close();
    });
    call.on('cancelled', close);
    call.on('close', close);
  };

  const server = new grpc.Server({
    'grpc.max_receive_message_length': o.maxMessageBytes,
    'grpc.keepalive_permit_without_calls': 1,
  });
  server.addService(loadService(), { Stream: handler });
  const creds = serverCredentials(o.tls, 'daemon.telemetry.tls');
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`, creds, (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  log.info('telemetry listening', { host: o.host, port, tls: o.tls !== undefined });

  const broadcast = (service: string, kind: number, percentage?: number): number => {
    let n = 0;
    for (const c of conns.values()) {
      if (c.service !== service) continue;
      send(c, kind, percentage);
      n++;
    }
    log.info('control sent', { service, kind, percentage, streams: n });
    return n;
  };

  return {
    port,
    ...(o.token !== undefined ? { token: o.token } : {}),
    setPercentage(service, percentage) {
      if (!(percentage >= 0 && percentage <= 100))
        throw new Error(`percentage must be 0..100 (got ${percentage})`);
      controls.set(service, { ...controls.get(service), percentage });
      return broadcast(service, CONTROL_SET_PERCENTAGE, percentage);
    },
    pause(service) {
      controls.set(service, { ...controls.get(service), paused: true });
      return broadcast(service, CONTROL_PAUSE);
    },
    resume(service) {
      controls.set(service, { ...controls.get(service), paused: false });
      return broadcast(service, CONTROL_RESUME);
    },
    setSplit(service, percentage) {
      if (!(percentage >= 0 && percentage <= 100))
        throw new Error(`split must be 0..100 (got ${percentage})`);
      controls.set(service, { ...controls.get(service), split: percentage });
      return broadcast(service, CONTROL_SET_SPLIT, percentage);
    },
    control(service) {
      return { ...controls.get(service) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns.values()) c.call.end();
        server.tryShutdown(() => resolve());
        // Streams that do not end promptly are cut.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
