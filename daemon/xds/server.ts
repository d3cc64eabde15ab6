/**
 * The Aggregated Discovery Service server (state of the world) on
 * @grpc/grpc-js: per-node snapshots in, DiscoveryResponses out, ACKs and
 * NACKs reported as events and kept in a per-node status.
 *
 *   const xds = await XdsServer.start({ port: 18000 });
 *   const built = createSnapshot(input);           // consistency-checked
 *   if (built.ok) xds.setSnapshot('edge-1', built.snapshot);
 *   xds.on('nack', (n) => ...);                    // Envoy refused something
 *
 * The only bridge between what resources mean and how they travel is
 * {@link XdsServer.setSnapshot}. A node without a snapshot is held: its
 * requests stay open until one is set (NOTE: xDS protocol, the server answers
 * when it has something to say). A NACK leaves the proxy on its previous good
 * configuration; the rejected version is recorded and not re-sent, and a
 * proxy connecting while it stands is served the last good snapshot.
 * Access: with `nodes`, a stream naming another node id is refused; with
 * `token`, a stream without it. Both before anything is sent.
 * Per-node bookkeeping lives in nodes.ts, per-stream protocol in ads-stream.ts.
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { logger, rateLimited } from '../log.js';
import { presentsToken } from '../platform/token-file.js';
import {
  AdsStream,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type StreamEvent,
  StreamProtocolError,
} from './ads-stream.js';
import type { AnyResource } from './encode.js';
import { type AckEvent, type NackRecord, type NodeStatus, NodeTable, versionsOf } from './nodes.js';
import { xdsProtos } from './protos.js';
import type { Snapshot } from './snapshot.js';

export type { AckEvent, NackRecord, NodeStatus } from './nodes.js';

import { SHORT_NAME, type TypeUrl } from './type-urls.js';

const log = logger('xds');

/** Where the server listens. */
export interface XdsServerOptions {
  /** TCP port; 0 picks a free one (read it back from {@link XdsServer.port}). */
  port: number;
  /** Bind address (default loopback). */
  host?: string;
  /** Server credentials (default insecure; TLS is one block away). */
  credentials?: grpc.ServerCredentials;
  /**
   * The node ids served, matched exactly against the first request's
   * `node.id`; a stream naming another is ended with PERMISSION_DENIED before
   * anything is sent (counted in {@link XdsServer.refused}). Absent: any node
   * (one without a snapshot is held until it has one).
   */
  nodes?: ReadonlySet<string>;
  /**
   * When set, a stream must present it as initial metadata
   * ({@link XDS_TOKEN_METADATA}); one that does not is ended with
   * UNAUTHENTICATED before its first request is read.
   */
  token?: string;
  /**
   * Told of every accepted stream's requests (after the access checks, before
   * the server handles them) and of its end: an overlay relays them upstream.
   */
  observer?: StreamObserver;
}

/** Sees each stream's requests as they arrive; must not throw. */
export interface StreamObserver {
  /** A request of stream `streamId` (its first one carries the node). */
  request(streamId: number, req: DiscoveryRequest): void;
  /** The stream ended (any reason). */
  closed(streamId: number): void;
}

/** The initial metadata key carrying the xDS token (Envoy: the ADS GrpcService's `initial_metadata`). */
export const XDS_TOKEN_METADATA = 'x-umbra-xds-token';

/** A wait for an ACK ended in a NACK of that very version: the proxy's refusal, attributed. */
export class XdsNackError extends Error {
  constructor(readonly nack: NackRecord) {
    super(`${SHORT_NAME[nack.typeUrl]} ${nack.version} NACKed by ${nack.nodeId}: ${nack.message}`);
  }
}

/**
 * The ADS server. Create with {@link XdsServer.start}; events `ack`
 * (AckEvent), `nack` (NackRecord) and `snapshot` (nodeId, Snapshot: one was
 * set, after its streams were pumped; listeners must not throw).
 */
export class XdsServer extends EventEmitter {
  private readonly nodes = new NodeTable();
  private readonly allowLog = rateLimited(10_000);
  /** Streams refused before anything was sent: without the token, or naming a node not served. */
  readonly refused = { unauthenticated: 0, unknownNode: 0 };

  private constructor(
    private readonly grpcServer: grpc.Server,
    /** The bound port. */
    readonly port: number,
    private readonly access: Pick<XdsServerOptions, 'nodes' | 'token' | 'observer'> = {},
  ) {
    super();
  }

  /** Starts listening; resolves once bound. */
  static async start(options: XdsServerOptions): Promise<XdsServer> {
    const { adsService } = xdsProtos();
    const grpcServer = new grpc.Server({
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      // Find proxies that vanished without closing their connection.
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
    });
    const host = options.host ?? '127.0.0.1';
    const address = host.includes(':') ? `[${host}]:${options.port}` : `${host}:${options.port}`;
    const port = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync(
        address,
        options.credentials ?? grpc.ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      );
    });
    const server = new XdsServer(grpcServer, port, {
      ...(options.nodes ? { nodes: options.nodes } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.observer ? { observer: options.observer } : {}),
    });
    grpcServer.addService(adsService, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) =>
        server.serveStream(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        // NOTE: incremental xDS is optional for a management server; clients fall back to SotW.
        call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'delta xDS is not served' });
      },
    });
    log.info('xds server listening', { address: host, port });
    return server;
  }

  /**
   * Publishes `snapshot` for `nodeId` and pushes what changed to every
   * connected stream of that node. The snapshot must come from
   * `createSnapshot` (which refuses inconsistent ones). Returns its versions.
   */
  setSnapshot(nodeId: string, snapshot: Snapshot): Record<string, string> {
    const streams = this.nodes.publish(nodeId, snapshot);
    const versions = versionsOf(snapshot);
    log.debug('snapshot set', { nodeId, versions, streams: streams.size });
    for (const stream of streams) stream.pump();
    this.emit('snapshot', nodeId, snapshot);
    return versions;
  }

  /** The snapshot currently published for a node, if any. */
  snapshot(nodeId: string): Snapshot | undefined {
    return this.nodes.current(nodeId);
  }

  /** The last snapshot the node ACKed in full (what its proxies run after a NACK). */
  lastGoodSnapshot(nodeId: string): Snapshot | undefined {
    return this.nodes.lastGood(nodeId);
  }

  /** Status of one node, or undefined if it is neither connected nor has a snapshot. */
  status(nodeId: string): NodeStatus | undefined {
    return this.nodes.status(nodeId);
  }

  /**
   * A resource as the node last ACKed it, i.e. what its proxies run (undefined
   * when it never ACKed one by that name). Compare with {@link snapshot} for
   * what the daemon wants.
   */
  ackedResource(nodeId: string, typeUrl: TypeUrl, name: string): AnyResource | undefined {
    return this.nodes.ackedResource(nodeId, typeUrl, name);
  }

  /** Node ids known to the server (connected or with a snapshot). */
  nodeIds(): string[] {
    return this.nodes.ids();
  }

  /**
   * Resolves when `nodeId` has ACKed `version` of `typeUrl` (immediately if it
   * already has); rejects with {@link XdsNackError} on a NACK of that version
   * (also one already received), or with an Error after `timeoutMs`.
   */
  waitForAck(nodeId: string, typeUrl: TypeUrl, version: string, timeoutMs: number): Promise<void> {
    if (this.nodes.ackedVersion(nodeId, typeUrl) === version) return Promise.resolve();
    const nack = this.nodes.lastNack(nodeId);
    if (nack && nack.typeUrl === typeUrl && nack.version === version) {
      return Promise.reject(new XdsNackError(nack));
    }
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.off('ack', onAck);
        this.off('nack', onNack);
        if (err) reject(err);
        else resolve();
      };
      const onAck = (e: AckEvent): void => {
        if (e.nodeId === nodeId && e.typeUrl === typeUrl && e.version === version) done();
      };
      const onNack = (n: NackRecord): void => {
        if (n.nodeId === nodeId && n.typeUrl === typeUrl && n.version === version) done(new XdsNackError(n));
      };
      const timer = setTimeout(
        () =>
          done(new Error(`no ACK of ${SHORT_NAME[typeUrl]} ${version} from ${nodeId} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.on('ack', onAck);
      this.on('nack', onNack);
    });
  }

  /** Stops accepting streams and ends the open ones. */
  async close(): Promise<void> {
    for (const s of this.nodes.streams()) s.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, 1000);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private serveStream(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
    let ended = false;
    const { token, nodes } = this.access;
    if (token !== undefined && !presentsToken(call.metadata, XDS_TOKEN_METADATA, token)) {
      this.refused.unauthenticated++;
      this.refuse('xds token missing or wrong', { peer: call.getPeer() });
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'xds token missing or wrong' });
      return;
    }
    const host = {
      opened: (s: AdsStream) => this.attach(s),
      snapshot: (s: AdsStream) => this.nodes.snapshotFor(s),
      report: (s: AdsStream, e: StreamEvent) => this.onStreamEvent(s, e),
    };
    const stream = new AdsStream(host, (response) => {
      if (ended || call.destroyed) return;
      call.write(response);
    });
    const finish = (reason: string): void => {
      if (ended) return;
      ended = true;
      stream.close();
      this.nodes.close(stream);
      this.access.observer?.closed(stream.id);
      const pending = Object.entries(stream.describe())
        .filter(([, s]) => s.inFlight)
        .map(([t]) => t);
      log.info('ads stream closed', { nodeId: stream.nodeId, stream: stream.id, reason, inFlight: pending });
    };
    call.on('data', (req: DiscoveryRequest) => {
      if (ended) return;
      const named = req.node?.id;
      if (nodes && stream.nodeId === undefined && named && !nodes.has(named)) {
        this.refused.unknownNode++;
        this.refuse('node id not served', { nodeId: named, peer: call.getPeer() });
        finish('unknown node');
        call.emit('error', {
          code: grpc.status.PERMISSION_DENIED,
          details: `node id ${JSON.stringify(named)} is not served here`,
        });
        return;
      }
      try {
        this.access.observer?.request(stream.id, req);
        stream.handle(req);
      } catch (err) {
        if (!(err instanceof StreamProtocolError))
          log.error('ads request failed', { stream: stream.id, err });
        else log.warn('ads stream refused', { stream: stream.id, reason: err.message });
        finish('protocol error');
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
        return;
      }
    });
    call.on('end', () => {
      finish('client ended');
      if (!call.destroyed) call.end();
    });
    call.on('cancelled', () => finish('cancelled'));
    call.on('error', (err) => finish(`error: ${err.message}`));
    call.on('close', () => finish('closed'));
  }

  private refuse(msg: string, fields: Record<string, unknown>): void {
    const suppressed = this.allowLog(msg);
    if (suppressed >= 0) log.warn('ads stream refused', { reason: msg, ...fields, suppressed });
  }

  private attach(stream: AdsStream): void {
    const nodeId = stream.nodeId!;
    const { pinned, hasSnapshot } = this.nodes.open(stream);
    log.info('ads stream opened', { nodeId, stream: stream.id });
    if (!hasSnapshot) log.info('node has no snapshot yet; holding its requests', { nodeId });
    if (pinned) {
      log.warn('current snapshot was refused; serving the last good one to a new stream', {
        nodeId,
        stream: stream.id,
        lastGood: versionsOf(this.nodes.lastGood(nodeId)),
      });
    }
  }

  private onStreamEvent(stream: AdsStream, e: StreamEvent): void {
    const nodeId = stream.nodeId ?? '';
    switch (e.kind) {
      case 'ack': {
        const ack: AckEvent = {
          nodeId,
          typeUrl: e.typeUrl,
          version: e.version,
          nonce: e.nonce,
          streamId: stream.id,
        };
        this.nodes.ack(ack, e.items);
        log.debug('ack', { nodeId, type: SHORT_NAME[e.typeUrl], version: e.version, stream: stream.id });
        this.emit('ack', ack);
        return;
      }
      case 'nack': {
        const record: NackRecord = {
          nodeId,
          typeUrl: e.typeUrl,
          version: e.version,
          nonce: e.nonce,
          streamId: stream.id,
          code: e.code,
          message: e.message,
          resources: e.resources,
          at: new Date().toISOString(),
        };
        this.nodes.nack(record);
        log.warn('nack', {
          nodeId,
          type: SHORT_NAME[e.typeUrl],
          version: e.version,
          resources: e.resources,
          detail: e.message,
        });
        this.emit('nack', record);
        return;
      }
      case 'unknown-type': {
        const suppressed = this.allowLog(`unknown:${nodeId}:${e.typeUrl}`);
        if (suppressed >= 0)
          log.warn('unknown type url; not answered', { nodeId, typeUrl: e.typeUrl, suppressed });
        return;
      }
      case 'stale-nonce':
        log.debug('stale nonce ignored', {
          nodeId,
          typeUrl: e.typeUrl,
          nonce: e.nonce,
          expected: e.expected,
        });
        return;
    }
  }
}
