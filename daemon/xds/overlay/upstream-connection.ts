/**
 * One ADS stream to the upstream control plane, on behalf of one proxy
 * stream, with the proxy's own node: opened at once, reopened with backoff
 * whenever it ends, until {@link UpstreamConnection.close}. It only carries
 * messages; what to send is upstream-session.ts's business.
 */
import * as grpc from '@grpc/grpc-js';
import { logger } from '../../log.js';
import type { DiscoveryRequest } from '../ads-stream.js';
import { xdsProtos } from '../protos.js';

const log = logger('xds-overlay');

/** A decoded DiscoveryResponse from upstream (resources left encoded). */
export interface UpstreamResponse {
  version_info?: string;
  resources?: Array<{ type_url?: string; value?: Uint8Array }>;
  type_url?: string;
  nonce?: string;
}

type AdsCall = grpc.ClientDuplexStream<DiscoveryRequest, UpstreamResponse>;
export type AdsClient = grpc.Client & { StreamAggregatedResources(metadata?: grpc.Metadata): AdsCall };

/** Where the upstream control plane is, and how to reach it. */
export interface UpstreamTarget {
  /** `host:port` (a gRPC target). */
  address: string;
  credentials: grpc.ChannelCredentials;
  /** Extra channel options (e.g. the TLS server name). */
  channelOptions?: grpc.ChannelOptions;
}

/** What a connection reports to its relay. */
export interface UpstreamHandlers {
  response(res: UpstreamResponse): void;
  /** A (re)opened stream: the requests to send on it first. */
  opened(): DiscoveryRequest[];
  /** The stream ended; it is reopened after `retryInMs`. */
  lost(reason: string, retryInMs: number): void;
}

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;

let Client: grpc.ServiceClientConstructor | undefined;

/** A client (one channel) of the upstream's ADS, shared by one relay's streams; the relay closes it. */
export function upstreamClient(target: UpstreamTarget): AdsClient {
  Client ??= grpc.makeClientConstructor(xdsProtos().adsService, 'AggregatedDiscoveryService');
  return new Client(target.address, target.credentials, {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    ...target.channelOptions,
  }) as unknown as AdsClient;
}

export class UpstreamConnection {
  private call: AdsCall | undefined;
  private first = true;
  private closed = false;
  private backoffMs = BACKOFF_MIN_MS;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: AdsClient,
    /** The proxy's node, sent on the first request of every upstream stream. */
    private readonly node: object,
    private readonly handlers: UpstreamHandlers,
  ) {
    this.open();
  }

  /** Sends a request on the current stream (dropped while none is open: the reopen re-asks). */
  send(req: DiscoveryRequest): void {
    if (!this.call || this.closed) return;
    this.call.write(this.first ? { ...req, node: this.node as DiscoveryRequest['node'] } : req);
    this.first = false;
  }

  /** Ends the stream for good. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.call?.cancel();
    this.call = undefined;
  }

  private open(): void {
    if (this.closed) return;
    const call = this.client.StreamAggregatedResources();
    this.call = call;
    this.first = true;
    let ended = false;
    const end = (reason: string): void => {
      if (ended) return;
      ended = true;
      if (this.call === call) this.call = undefined;
      if (this.closed) return;
      const wait = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
      this.handlers.lost(reason, wait);
      this.timer = setTimeout(() => this.open(), wait);
      this.timer.unref();
    };
    call.on('data', (res: UpstreamResponse) => {
      this.backoffMs = BACKOFF_MIN_MS;
      this.handlers.response(res);
    });
    call.on('error', (err: Error) => end(err.message));
    call.on('end', () => end('upstream ended the stream'));
    call.on('status', (s: grpc.StatusObject) => end(`status ${s.code}: ${s.details}`));
    for (const req of this.handlers.opened()) this.send(req);
    log.debug('upstream stream opened', { upstream: this.client.getChannel().getTarget() });
  }
}
