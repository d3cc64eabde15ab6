/**
 * The worker's long-lived gRPC bidi stream to the daemon
 * (`umbra.telemetry.v1.Telemetry/Stream` on the telemetry cluster): sends
 * batches, receives control messages, and reopens with backoff.
 *
 * NOTE: when the daemon is unreachable Envoy closes the stream (status 14,
 * UNAVAILABLE) and nothing reopens it but the filter, so reconnects are driven
 * from the root context's tick.
 *
 * NOTE: the "service" argument of proxy_grpc_stream may be a cluster name,
 * but Envoy 1.40 first tries to parse it as a serialized GrpcService: a name
 * whose bytes happen to parse (`umbra-telemetry` does, as three fixed32
 * fields) yields a GrpcService with no target and Envoy aborts with "panic:
 * unset oneof" (async_client_manager_impl.cc). So the filter always sends a
 * serialized GrpcService { envoy_grpc { cluster_name } }.
 */
import {
  BufferType,
  getBufferBytes,
  getProperty,
  grpcCancel,
  grpcSend,
  grpcStream,
  LogLevel,
  log,
  nowMicros,
  setTickPeriod,
} from './abi/host';
import { batchSize, encodeBatch } from './batch-encoder';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { Config } from './config';
import { decodeControl } from './control';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { Control } from './generated/umbra/telemetry/v1/Control';
import { ControlKind } from './generated/umbra/telemetry/v1/ControlKind';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { Metrics } from './metrics';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { Rng } from './rng';
import { buf } from './strings';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { BatchMeta, Counts, Dictionary, RecordBuffer } from './telemetry';

/** Appends a protobuf varint. */
function varint(out: u8[], v: u32): void {
  while (v >= 0x80) {
    out.push(<u8>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push(<u8>v);
}

/** Appends a length-delimited protobuf field (`key` is the field's tag byte). */
function lengthDelimited(out: u8[], key: u8, bytes: Uint8Array): void {
  out.push(key);
  varint(out, <u32>bytes.length);
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
}

function bytesOf(list: u8[]): Uint8Array {
  const out = new Uint8Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = list[i];
  return out;
}

/** The initial metadata key that carries the telemetry token (daemon/telemetry/server.ts). */
const TOKEN_METADATA = 'x-umbra-telemetry-token';

/**
 * `envoy.config.core.v3.GrpcService { envoy_grpc (1) { cluster_name (1) },
 * initial_metadata (5) [{ key (1), value (2) }] }`, serialized; the metadata
 * only with a token.
 *
 * NOTE: Envoy's gRPC async client adds a GrpcService's initial_metadata to
 * the request headers of every stream it opens (seen on 1.40), so the token
 * reaches the daemon without the ABI's own metadata arguments.
 */
export function grpcServiceFor(cluster: string, token: string): ArrayBuffer {
  const target: u8[] = [];
  lengthDelimited(target, 0x0a, Uint8Array.wrap(buf(cluster)));
  const out: u8[] = [];
  lengthDelimited(out, 0x0a, bytesOf(target));
  if (token.length > 0) {
    const header: u8[] = [];
    lengthDelimited(header, 0x0a, Uint8Array.wrap(buf(TOKEN_METADATA)));
    lengthDelimited(header, 0x12, Uint8Array.wrap(buf(token)));
    lengthDelimited(out, 0x2a, bytesOf(header));
  }
  return bytesOf(out).buffer;
}

const SERVICE = buf('umbra.telemetry.v1.Telemetry');
const METHOD = buf('Stream');
const NODE_ID = buf('xds\0node\0id');
/** Batches sent per flush at most (the rest waits for the next tick). */
const MAX_BATCHES_PER_FLUSH = 64;
/** A stream that stayed open this long resets the backoff. */
const HEALTHY_AFTER_US: i64 = 5_000_000;
/**
 * A stream that stayed open this long without closing is taken as connected
 * even if the daemon sent no initial metadata yet.
 */
const CONFIRM_AFTER_US: i64 = 250_000;
/**
 * Tick period while the stream is down (when flushIntervalMs is longer):
 * reconnects are tried from the tick, so a returning daemon is reached within
 * the backoff plus this, not plus a whole flush interval.
 */
const RECONNECT_TICK_MS: u32 = 200;

/**
 * One stream per root context; all calls come from the root context. The
 * root hands in what the stream reads and counts (its configuration, counters,
 * dictionary, record buffer, random source and metrics): a configuration
 * replaces them all and builds a new stream, so they never change under it.
 * Control messages are returned to the root, which applies them.
 */
export class TelemetryStream {
  private token: u32 = 0;
  private cluster: ArrayBuffer;
  private meta: BatchMeta = new BatchMeta();
  private sequence: u64 = 0;
  private lastControl: u64 = 0;
  /** The daemon's last ack on this stream (flow control; see config.maxUnackedBatches). */
  private acked: u64 = 0;
  /** Whether this stream's daemon acks at all (older daemons do not). */
  private ackSeen: bool = false;
  /** The last flush stopped for want of an ack. */
  private holding: bool = false;
  private openedUs: i64 = 0;
  private nextAttemptUs: i64 = 0;
  private backoffMs: u32;
  private opened: u32 = 0;
  private sentSinceTick: bool = false;
  private loggedDown: bool = false;
  /** The tick runs at RECONNECT_TICK_MS until the stream is confirmed again. */
  private fastTick: bool = false;
  /**
   * Whether the daemon is known to be there. NOTE: Envoy accepts sends on a
   * stream whose connection has not been made yet and drops them when the
   * connect fails, so records are held back until a tick finds the stream
   * still open after the daemon answered (initial metadata) or after
   * {@link CONFIRM_AFTER_US}.
   */
  private confirmed: bool = false;
  /** Initial metadata arrived on the current stream. */
  private answered: bool = false;

  constructor(
    private config: Config,
    private counts: Counts,
    private dict: Dictionary,
    private buffer: RecordBuffer,
    private rng: Rng,
    private metrics: Metrics | null,
    worker: u32,
  ) {
    const c = config;
    this.cluster = grpcServiceFor(c.telemetryCluster, c.telemetryToken);
    this.backoffMs = c.reconnectMinMs;
    this.meta.worker = worker;
    this.meta.service = c.service;
    this.meta.proxyId = c.proxyId;
    if (this.meta.proxyId.length === 0) {
      const id = getProperty(NODE_ID);
      if (id !== null) this.meta.proxyId = String.UTF8.decode(id);
    }
  }

  /** Whether a stream is currently open (as far as the filter knows). */
  isOpen(): bool {
    return this.token !== 0 && this.confirmed;
  }

  /** The stream token, to route gRPC callbacks. */
  owns(token: u32): bool {
    return token !== 0 && token === this.token;
  }

  /** Tick: reopen when due, reset backoff when healthy, flush or heartbeat. */
  onTick(): void {
    const now = nowMicros();
    // The stream opens once this VM has seen traffic: Envoy also runs a root
    // context on the main thread, which serves no requests.
    if (this.token === 0 && now >= this.nextAttemptUs && this.counts.requests > 0) this.open(now);
    if (this.token !== 0 && !this.confirmed && (this.answered || now - this.openedUs >= CONFIRM_AFTER_US)) {
      this.confirmed = true;
      this.loggedDown = false;
      this.setFastTick(false);
    }
    if (this.token !== 0 && now - this.openedUs > HEALTHY_AFTER_US) {
      this.backoffMs = this.config.reconnectMinMs;
    }
    this.flush(true);
    this.sentSinceTick = false;
  }

  private open(now: i64): void {
    const t = grpcStream(this.cluster, SERVICE, METHOD);
    if (t === 0) {
      this.counts.calloutFailures++;
      this.scheduleRetry(now);
      return;
    }
    this.token = t;
    this.confirmed = false;
    this.answered = false;
    this.sequence = 0;
    this.lastControl = 0;
    this.acked = 0;
    this.ackSeen = false;
    this.holding = false;
    this.openedUs = now;
    this.dict.resetStream();
    if (this.opened > 0) this.counts.streamReconnects++;
    this.opened++;
    log(LogLevel.Debug, 'umbra: telemetry stream opened');
  }

  /**
   * The next attempt in [backoff/2, backoff] ("equal jitter": spread over the
   * workers, never beyond reconnectMaxMs), then the backoff doubles up to
   * reconnectMaxMs.
   */
  private scheduleRetry(now: i64): void {
    const half = <u64>this.backoffMs / 2;
    const delay = <i64>(<u64>this.backoffMs - half + (this.rng.next() % (half + 1)));
    this.nextAttemptUs = now + delay * 1000;
    const doubled = this.backoffMs * 2;
    this.backoffMs = min<u32>(doubled, this.config.reconnectMaxMs);
    this.setFastTick(true);
  }

  private setFastTick(on: bool): void {
    const normal = this.config.flushIntervalMs;
    if (on === this.fastTick || normal <= RECONNECT_TICK_MS) return;
    if (setTickPeriod(on ? RECONNECT_TICK_MS : normal)) this.fastTick = on;
  }

  /**
   * Sends buffered records in batches while the stream is open. With
   * `heartbeat`, a batch is sent even with no records when nothing was sent
   * since the last tick (it carries the counters).
   */
  flush(heartbeat: bool): void {
    if (this.token === 0 || !this.confirmed) return;
    const max = <i32>this.config.batchMaxRecords;
    const buffer = this.buffer;
    for (let i = 0; i < MAX_BATCHES_PER_FLUSH; i++) {
      if (buffer.count === 0 && (!heartbeat || this.sentSinceTick)) return;
      // Flow control: the daemon is behind; the records wait in the bounded buffer.
      this.holding = this.ackSeen && this.sequence >= this.acked + <u64>this.config.maxUnackedBatches;
      if (this.holding) return;
      const n = batchSize(buffer, max);
      const bytes = encodeBatch(
        this.meta,
        this.sequence + 1,
        nowMicros(),
        this.counts,
        buffer,
        this.dict,
        max,
      );
      if (!grpcSend(this.token, bytes.dataStart, <u32>bytes.length)) {
        this.counts.calloutFailures++;
        grpcCancel(this.token);
        this.closed(14);
        return;
      }
      this.sequence++;
      buffer.shift(n);
      this.sentSinceTick = true;
      const m = this.metrics;
      if (m !== null) {
        m.batchesSent++;
        m.recordsSent += <u64>n;
      }
      if (buffer.count === 0) return;
    }
  }

  /**
   * The stream got initial metadata. NOTE: Envoy also calls this with an
   * empty map just before closing a stream that failed to connect, so it
   * only marks the stream; the next tick confirms it if it is still open.
   */
  onInitialMetadata(): void {
    this.answered = true;
  }

  /** A control message arrived on the stream: returns the one the root must apply, if any. */
  onReceive(size: u32): Control | null {
    const bytes = getBufferBytes(BufferType.GrpcReceiveBuffer, 0, size);
    if (bytes === null) return null;
    this.backoffMs = this.config.reconnectMinMs;
    const decoded = decodeControl(changetype<usize>(bytes), bytes.byteLength);
    if (decoded === null) {
      log(LogLevel.Warn, 'umbra: ignored a malformed control message');
      return null;
    }
    const control = changetype<Control>(decoded);
    if (control.kind === ControlKind.CONTROL_ACK) {
      this.acked = max<u64>(this.acked, control.ackedSequence);
      this.ackSeen = true;
      // Only a stream that was holding back sends at once; otherwise acks
      // must not turn batching into one small batch per ack.
      if (this.holding) this.flush(false);
      return null;
    }
    if (control.sequence !== 0 && control.sequence <= this.lastControl) return null;
    this.lastControl = control.sequence;
    return control;
  }

  /** The stream closed (daemon gone, or Envoy gave up): reopen later. */
  closed(status: u32): void {
    if (this.token === 0) return;
    this.token = 0;
    this.confirmed = false;
    if (!this.loggedDown || status !== 14) {
      log(LogLevel.Warn, 'umbra: telemetry stream closed, will reconnect; grpc-status=' + status.toString());
      this.loggedDown = status === 14;
    }
    this.scheduleRetry(nowMicros());
  }
}
