/**
 * Per-node bookkeeping of the xDS server: the published snapshot, the last
 * good one, connected streams, ACKed versions and the last NACK. No I/O, no
 * gRPC: the server feeds it stream lifecycle and ACK/NACK facts.
 */
import type { AdsStream } from './ads-stream.js';
import type { Snapshot } from './snapshot.js';
import { SHORT_NAME, type TypeUrl } from './type-urls.js';

/** One accepted response. */
export interface AckEvent {
  nodeId: string;
  typeUrl: TypeUrl;
  version: string;
  nonce: string;
  streamId: number;
}

/** One rejected response, with the proxy's own explanation. */
export interface NackRecord {
  nodeId: string;
  typeUrl: TypeUrl;
  /** The version the proxy refused. */
  version: string;
  nonce: string;
  streamId: number;
  /** google.rpc.Status from the request's `error_detail`. */
  code: number;
  message: string;
  /** Names of the refused resources (ads-stream.ts `blamedResources`). */
  resources: string[];
  /** ISO time the NACK arrived. */
  at: string;
}

/** What the server knows about one node. A fresh copy on every call. */
export interface NodeStatus {
  nodeId: string;
  /** Connected ADS streams for this node id. */
  streams: number;
  /** Versions of the current snapshot by short type name (`CDS`…), empty when none is set. */
  snapshot: Record<string, string>;
  /** Last version ACKed per short type name, by any stream of the node. */
  acked: Record<string, string>;
  /** The most recent NACK, until the node ACKs the current version of that type. */
  lastNack?: NackRecord;
  /** Versions of the last snapshot the node ACKed in full. */
  lastGood?: Record<string, string>;
}

interface NodeState {
  snapshot?: Snapshot;
  lastGood?: Snapshot;
  streams: Set<AdsStream>;
  acked: Map<TypeUrl, string>;
  lastNack?: NackRecord;
  /** The current snapshot was NACKed; streams opened since get {@link NodeState.lastGood}. */
  rejected: boolean;
  /** Streams held on the last good snapshot until a new one is set. */
  pinned: Set<AdsStream>;
}

/** Versions of a snapshot by short type name. */
export function versionsOf(snapshot: Snapshot | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!snapshot) return out;
  for (const [t, r] of snapshot.types) out[SHORT_NAME[t]] = r.version;
  return out;
}

/** All nodes of one server. Owned by that server; not shared. */
export class NodeTable {
  private readonly nodes = new Map<string, NodeState>();

  /** Publishes a snapshot; returns the node's streams, which should now be pumped. */
  publish(nodeId: string, snapshot: Snapshot): ReadonlySet<AdsStream> {
    const node = this.node(nodeId);
    node.snapshot = snapshot;
    node.rejected = false;
    node.pinned.clear();
    return node.streams;
  }

  /**
   * Registers a stream that has named its node. Returns whether it was pinned
   * to the last good snapshot because the current one stands NACKed.
   * NOTE: a proxy that (re)starts while the current snapshot stands NACKed
   * would otherwise receive only what was refused and serve nothing at all.
   */
  open(stream: AdsStream): { pinned: boolean; hasSnapshot: boolean } {
    const node = this.node(stream.nodeId!);
    node.streams.add(stream);
    const pinned = node.rejected && node.lastGood !== undefined;
    if (pinned) node.pinned.add(stream);
    return { pinned, hasSnapshot: node.snapshot !== undefined };
  }

  /** Forgets a stream; a node that never had a snapshot goes with its last stream (ids are client-chosen). */
  close(stream: AdsStream): void {
    if (stream.nodeId === undefined) return;
    const node = this.nodes.get(stream.nodeId);
    if (!node) return;
    node.streams.delete(stream);
    node.pinned.delete(stream);
    if (node.streams.size === 0 && !node.snapshot) this.nodes.delete(stream.nodeId);
  }

  /** The snapshot a stream should converge on now. */
  snapshotFor(stream: AdsStream): Snapshot | undefined {
    const node = this.nodes.get(stream.nodeId!);
    return node?.pinned.has(stream) ? node.lastGood : node?.snapshot;
  }

  /** Records an ACK (and promotes the current snapshot to last good once every type is ACKed). */
  ack(e: AckEvent): void {
    const node = this.node(e.nodeId);
    node.acked.set(e.typeUrl, e.version);
    const current = node.snapshot?.types.get(e.typeUrl)?.version;
    if (node.lastNack?.typeUrl === e.typeUrl && e.version === current) node.lastNack = undefined;
    if (node.snapshot && isFullyAcked(node)) node.lastGood = node.snapshot;
  }

  /** Records a NACK; a NACK of the current snapshot marks it rejected for new streams. */
  nack(record: NackRecord): void {
    const node = this.node(record.nodeId);
    node.lastNack = record;
    if (node.snapshot?.types.get(record.typeUrl)?.version === record.version) node.rejected = true;
  }

  current(nodeId: string): Snapshot | undefined {
    return this.nodes.get(nodeId)?.snapshot;
  }

  lastGood(nodeId: string): Snapshot | undefined {
    return this.nodes.get(nodeId)?.lastGood;
  }

  ackedVersion(nodeId: string, typeUrl: TypeUrl): string | undefined {
    return this.nodes.get(nodeId)?.acked.get(typeUrl);
  }

  lastNack(nodeId: string): NackRecord | undefined {
    return this.nodes.get(nodeId)?.lastNack;
  }

  status(nodeId: string): NodeStatus | undefined {
    const node = this.nodes.get(nodeId);
    if (!node) return undefined;
    const acked: Record<string, string> = {};
    for (const [t, v] of node.acked) acked[SHORT_NAME[t]] = v;
    return {
      nodeId,
      streams: node.streams.size,
      snapshot: versionsOf(node.snapshot),
      acked,
      ...(node.lastNack ? { lastNack: { ...node.lastNack } } : {}),
      ...(node.lastGood ? { lastGood: versionsOf(node.lastGood) } : {}),
    };
  }

  ids(): string[] {
    return [...this.nodes.keys()];
  }

  /** Every connected stream. */
  *streams(): Iterable<AdsStream> {
    for (const node of this.nodes.values()) yield* node.streams;
  }

  private node(nodeId: string): NodeState {
    let node = this.nodes.get(nodeId);
    if (!node) {
      node = { streams: new Set(), acked: new Map(), rejected: false, pinned: new Set() };
      this.nodes.set(nodeId, node);
    }
    return node;
  }
}

function isFullyAcked(node: NodeState): boolean {
  for (const [t, r] of node.snapshot!.types) {
    if (r.items.size > 0 && node.acked.get(t) !== r.version) return false;
  }
  return true;
}
