/**
 * Overlay mode: the xDS server's proxies are served what an upstream control
 * plane sends them, merged with Umbra's edits for the services it manages.
 *
 * Per proxy stream, one upstream stream with the proxy's own node
 * (upstream-connection.ts); per node, the upstream's latest resources merged
 * (merge.ts) and published as the node's snapshot, so the xDS server's own
 * protocol (ads-stream.ts: push order, nonces, make before break) serves it.
 * Versions and nonces are mapped per stream and type (upstream-session.ts):
 * - an upstream response is ACKed upstream once the proxy ACKs the snapshot
 *   that holds it (at once when the merge did not change what the proxy has);
 * - a NACK naming a resource Umbra added or edited is Umbra's: the service's
 *   edits are withdrawn on that node, the refusal is emitted as `nack` (the
 *   rollout holds), and upstream's resources go out unedited, to be ACKed
 *   upstream when the proxy accepts them;
 * - any other NACK is upstream's: it goes upstream with Envoy's error_detail,
 *   and the proxy keeps its last good configuration.
 * The upstream going away leaves the proxies on what they have; the stream is
 * reopened with backoff and asks again with the versions last ACKed. Nothing
 * is published before Umbra's desired state is set ({@link OverlayRelay.setEdits}),
 * so a restarted daemon re-serves the merged state, never the bare upstream one.
 * Delta xDS is served on neither side (the server answers UNIMPLEMENTED and
 * Envoy falls back to state of the world; upstream is asked state of the world).
 */
import { EventEmitter } from 'node:events';
import protobuf from 'protobufjs';
import { logger, rateLimited } from '../../log.js';
import type { DiscoveryRequest } from '../ads-stream.js';
import { snapshotVersion } from '../ads-stream.js';
import type { AnyResource } from '../encode.js';
import type { AckEvent, NackRecord } from '../nodes.js';
import type { StreamObserver, XdsServer } from '../server.js';
import { encodedSnapshot, type Snapshot } from '../snapshot.js';
import { isKnownType, SHORT_NAME, type TypeUrl, WILDCARD_TYPES } from '../type-urls.js';
import { type EncodedTypes, type MergeResult, mergeOverlay, type OverlayEdits, umbraKey } from './merge.js';
import {
  type AdsClient,
  UpstreamConnection,
  type UpstreamResponse,
  type UpstreamTarget,
  upstreamClient,
} from './upstream-connection.js';
import { UpstreamSession } from './upstream-session.js';

const log = logger('xds-overlay');

interface RelayedStream {
  nodeId: string;
  session: UpstreamSession;
  connection: UpstreamConnection;
}

interface OverlayNode {
  upstream: Map<TypeUrl, ReadonlyMap<string, AnyResource>>;
  merged?: MergeResult;
  /** Services whose edits this node's proxy refused (until the edits change). */
  withdrawn: Set<string>;
  reported: Set<string>;
}

/** Relays proxies' streams to the upstream. Events: `nack` (NackRecord: a refusal of Umbra's edits), `ack` (AckEvent). */
export class OverlayRelay extends EventEmitter implements StreamObserver {
  private xds: XdsServer | undefined;
  private readonly streams = new Map<number, RelayedStream>();
  private readonly nodes = new Map<string, OverlayNode>();
  private edits: OverlayEdits | undefined;
  private editsKey = '';
  private readonly allowLog = rateLimited(10_000);

  private readonly client: AdsClient;

  constructor(private readonly target: UpstreamTarget) {
    super();
    this.client = upstreamClient(target);
  }

  /** Binds the relay to the server it observes (created with `observer: relay`). */
  attach(xds: XdsServer): void {
    this.xds = xds;
    xds.on('ack', (e: AckEvent) => this.onAck(e));
    xds.on('nack', (n: NackRecord) => this.onNack(n));
  }

  /**
   * Sets Umbra's desired state and republishes every node; returns the
   * published versions per node (short type name → version).
   */
  setEdits(edits: OverlayEdits): Map<string, Record<string, string>> {
    const key = JSON.stringify({ services: edits.services, filter: edits.filter });
    if (key !== this.editsKey) for (const node of this.nodes.values()) node.withdrawn.clear();
    this.editsKey = key;
    this.edits = edits;
    const out = new Map<string, Record<string, string>>();
    for (const nodeId of this.nodes.keys()) {
      const versions = this.republish(nodeId);
      if (versions) out.set(nodeId, versions);
    }
    return out;
  }

  /** What the merge reported for a node (services left unmanaged, with paths). */
  errors(nodeId: string): string[] {
    return [...(this.nodes.get(nodeId)?.merged?.errors ?? [])];
  }

  request(streamId: number, req: DiscoveryRequest): void {
    let stream = this.streams.get(streamId);
    if (!stream) {
      const nodeId = req.node?.id;
      if (!nodeId) return;
      stream = this.openStream(streamId, nodeId, req.node!);
    }
    const typeUrl = req.type_url ?? '';
    if (!isKnownType(typeUrl)) return;
    const owned = this.nodes.get(stream.nodeId)?.merged?.owned;
    const names = (req.resource_names ?? []).filter((n) => !owned?.has(n));
    // NOTE: xDS protocol: a wildcard subscription (LDS, CDS) is no names or '*'; kept as the proxy sent it.
    const forwarded = WILDCARD_TYPES.has(typeUrl) ? (req.resource_names ?? []) : names;
    const first = stream.session.subscribe(typeUrl, forwarded);
    if (first) stream.connection.send(first);
  }

  closed(streamId: number): void {
    const stream = this.streams.get(streamId);
    if (!stream) return;
    stream.connection.close();
    this.streams.delete(streamId);
    // Node ids are the proxies' (Istio's name pods): forget a node with its last stream.
    if (![...this.streams.values()].some((s) => s.nodeId === stream.nodeId)) this.nodes.delete(stream.nodeId);
  }

  /** Ends every upstream stream and the channel (the daemon's stop). */
  close(): void {
    for (const id of [...this.streams.keys()]) this.closed(id);
    this.client.close();
  }

  private openStream(streamId: number, nodeId: string, node: object): RelayedStream {
    if (!this.nodes.has(nodeId)) {
      this.nodes.set(nodeId, { upstream: new Map(), withdrawn: new Set(), reported: new Set() });
    }
    const session = new UpstreamSession();
    const stream: RelayedStream = { nodeId, session, connection: undefined as unknown as UpstreamConnection };
    stream.connection = new UpstreamConnection(this.client, node, {
      response: (res) => this.onUpstream(stream, res),
      opened: () => session.reconnected(),
      lost: (reason, retryInMs) => {
        const suppressed = this.allowLog(`lost:${nodeId}`);
        if (suppressed >= 0)
          log.warn('upstream stream lost; proxies keep their configuration', {
            nodeId,
            upstream: this.target.address,
            reason,
            retryInMs,
            suppressed,
          });
      },
    });
    this.streams.set(streamId, stream);
    log.info('relaying proxy stream upstream', { nodeId, stream: streamId, upstream: this.target.address });
    return stream;
  }

  private onUpstream(stream: RelayedStream, res: UpstreamResponse): void {
    const typeUrl = res.type_url ?? '';
    if (!isKnownType(typeUrl)) return;
    const version = res.version_info ?? '';
    const nonce = res.nonce ?? '';
    stream.session.received(typeUrl, version, nonce);
    const named = nameResources(typeUrl, res.resources ?? []);
    if (!named.ok) {
      log.error('upstream sent resources that cannot be relayed; NACKed upstream, proxies keep theirs', {
        nodeId: stream.nodeId,
        upstream: this.target.address,
        type: SHORT_NAME[typeUrl],
        version,
        errors: named.errors,
      });
      const nack = stream.session.nack(typeUrl, { code: 3, message: named.errors.join('; ') });
      if (nack) stream.connection.send(nack);
      return;
    }
    this.nodes.get(stream.nodeId)!.upstream.set(typeUrl, named.items);
    this.republish(stream.nodeId);
    this.ackIfHeld(stream, typeUrl);
  }

  /** Merges and publishes a node's snapshot (nothing before Umbra's desired state is set). */
  private republish(nodeId: string): Record<string, string> | undefined {
    const node = this.nodes.get(nodeId);
    if (!node || !this.edits || !this.xds || node.upstream.size === 0) return undefined;
    const merged = mergeOverlay(node.upstream as EncodedTypes, { ...this.edits, withdrawn: node.withdrawn });
    node.merged = merged;
    for (const e of merged.errors) {
      if (node.reported.has(e)) continue;
      node.reported.add(e);
      log.error('service not managed on this proxy', { nodeId, error: e });
    }
    const versions = this.xds.setSnapshot(nodeId, encodedSnapshot(merged.types));
    for (const s of this.streams.values()) {
      if (s.nodeId !== nodeId) continue;
      for (const t of merged.types.keys()) this.ackIfHeld(s, t);
    }
    return versions;
  }

  /** ACKs upstream an owed response whose merge the proxy already runs. */
  private ackIfHeld(stream: RelayedStream, typeUrl: TypeUrl): void {
    if (!stream.session.pending(typeUrl)) return;
    const current = this.current(stream.nodeId, typeUrl);
    const acked = this.xds?.status(stream.nodeId)?.acked[SHORT_NAME[typeUrl]];
    if (current === undefined || snapshotVersion(acked ?? '') !== current) return;
    const ack = stream.session.ack(typeUrl);
    if (ack) stream.connection.send(ack);
  }

  private current(nodeId: string, typeUrl: TypeUrl): string | undefined {
    const snapshot: Snapshot | undefined = this.xds?.snapshot(nodeId);
    return snapshot?.types.get(typeUrl)?.version;
  }

  private onAck(e: AckEvent): void {
    this.emit('ack', e);
    const stream = this.streams.get(e.streamId);
    if (!stream || snapshotVersion(e.version) !== this.current(e.nodeId, e.typeUrl)) return;
    const ack = stream.session.ack(e.typeUrl);
    if (ack) stream.connection.send(ack);
  }

  private onNack(n: NackRecord): void {
    const stream = this.streams.get(n.streamId);
    const node = this.nodes.get(n.nodeId);
    if (!stream || !node || snapshotVersion(n.version) !== this.current(n.nodeId, n.typeUrl)) return;
    const services = new Set<string>();
    for (const name of n.resources) {
      for (const s of node.merged?.umbra.get(umbraKey(n.typeUrl, name)) ?? []) services.add(s);
    }
    if (services.size > 0) {
      log.error("a proxy refused Umbra's edits; passing the upstream's resources through unedited", {
        nodeId: n.nodeId,
        type: SHORT_NAME[n.typeUrl],
        services: [...services],
        detail: n.message,
      });
      for (const s of services) node.withdrawn.add(s);
      this.emit('nack', n);
      this.republish(n.nodeId);
      return;
    }
    log.warn("a proxy refused the upstream's own configuration; NACK forwarded upstream", {
      nodeId: n.nodeId,
      type: SHORT_NAME[n.typeUrl],
      resources: n.resources,
      detail: n.message,
    });
    const nack = stream.session.nack(n.typeUrl, { code: n.code, message: n.message });
    if (nack) stream.connection.send(nack);
  }
}

type Named = { ok: true; items: Map<string, AnyResource> } | { ok: false; errors: string[] };

/**
 * Names each upstream resource without decoding it: field 1 is the name of
 * all four types (`name`; `cluster_name` for a load assignment).
 */
export function nameResources(
  typeUrl: TypeUrl,
  resources: ReadonlyArray<{ type_url?: string; value?: Uint8Array }>,
): Named {
  const items = new Map<string, AnyResource>();
  const errors: string[] = [];
  resources.forEach((r, i) => {
    const at = `resources[${i}]`;
    if (r.type_url !== typeUrl) {
      errors.push(`${at}: type ${r.type_url} in a ${SHORT_NAME[typeUrl]} response`);
      return;
    }
    const value = r.value ?? new Uint8Array();
    const name = fieldOne(value);
    if (name === undefined) errors.push(`${at}: not a valid ${SHORT_NAME[typeUrl]} resource`);
    else if (name === '') errors.push(`${at}: has no name`);
    else if (items.has(name)) errors.push(`${at}: duplicate name ${name}`);
    else items.set(name, { type_url: typeUrl, value });
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, items };
}

/** The string in field 1 of a message ('' when absent), or undefined when the bytes are not a message. */
function fieldOne(bytes: Uint8Array): string | undefined {
  const reader = protobuf.Reader.create(bytes);
  try {
    let name = '';
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === 1 && (tag & 7) === 2) name = reader.string();
      else reader.skipType(tag & 7);
    }
    return name;
  } catch {
    return undefined;
  }
}
