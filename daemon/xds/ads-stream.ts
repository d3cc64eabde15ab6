/**
 * One ADS stream (state of the world): subscriptions, nonces, ACK/NACK and
 * the push order, for one connected client. Knows nothing about gRPC beyond
 * a `write` function, and nothing about what the resources mean.
 *
 * Rules (NOTE: xDS protocol, "ACK/NACK and resource type instance version",
 * "When to send an update", "Eventual consistency considerations"):
 * - A request whose `response_nonce` is not the last nonce sent for its type
 *   is stale and ignored entirely, names included (the client repeats its
 *   full subscription with its next ACK).
 * - A request carrying the last nonce is an ACK, or a NACK if it has
 *   `error_detail`; a NACKed version is not sent again.
 * - At most one response per type is in flight; types go out in the order
 *   CDS, EDS, LDS, RDS. Listeners and routes wait while the clusters or
 *   endpoints this client subscribes to are in flight, NACKed, or not yet at
 *   the snapshot's version, so a route never reaches a proxy before the
 *   clusters and endpoints it names are warm.
 * - Make before break: a cluster or load assignment that a new snapshot drops
 *   is kept in this stream's CDS/EDS responses (version `<version>+kept<N>`)
 *   until the stream's listeners and routes are ACKed at the snapshot's
 *   version; only then are they sent without it. NOTE: xDS protocol, "Eventual
 *   consistency considerations": stale clusters are removed only after the
 *   routes that named them are gone; Envoy answers 503 (no_cluster) to a route
 *   naming a cluster it no longer has. A stream knows only what it sent, so a
 *   reconnecting proxy gets the snapshot as it is.
 * - Endpoints never wait for clusters. NOTE: seen on Envoy 1.40 over ADS: on
 *   a CDS update that adds an EDS cluster, Envoy first re-subscribes EDS with
 *   the new name and sends its CDS ACK only after the next EDS response has
 *   arrived; making EDS wait for the CDS ACK deadlocked (no ACK in 10 s).
 * - Requests for unknown type URLs are logged and left unanswered.
 * - A type the snapshot does not hold (an overlay's, before its upstream
 *   answered) is not sent, and counts as unsettled.
 */
import type { AnyResource } from './encode.js';
import type { Snapshot } from './snapshot.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  isKnownType,
  LISTENER_TYPE,
  PUSH_ORDER,
  ROUTE_TYPE,
  SHORT_NAME,
  type TypeUrl,
  WILDCARD_TYPES,
} from './type-urls.js';

/** Types that must be settled on a stream before this type is sent (see the module comment). */
const WAITS_FOR: Readonly<Record<TypeUrl, readonly TypeUrl[]>> = {
  [CLUSTER_TYPE]: [],
  [ENDPOINT_TYPE]: [],
  [LISTENER_TYPE]: [CLUSTER_TYPE, ENDPOINT_TYPE],
  [ROUTE_TYPE]: [CLUSTER_TYPE, ENDPOINT_TYPE],
};

/** Types whose resources name clusters (routes, listeners), and the types they name. */
const REFERRERS: readonly TypeUrl[] = [LISTENER_TYPE, ROUTE_TYPE];
const REFERENCED: readonly TypeUrl[] = [CLUSTER_TYPE, ENDPOINT_TYPE];

/** A decoded DiscoveryRequest (proto-loader, keepCase, defaults off). */
export interface DiscoveryRequest {
  version_info?: string;
  node?: { id?: string; cluster?: string };
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

/** A DiscoveryResponse as handed to the transport. */
export interface DiscoveryResponse {
  version_info: string;
  resources: AnyResource[];
  type_url: string;
  nonce: string;
}

/** What a stream reports to its server. */
export type StreamEvent =
  | {
      kind: 'ack';
      typeUrl: TypeUrl;
      version: string;
      nonce: string;
      /** The resources the client accepted (what it runs now), by name. */
      items: ReadonlyMap<string, AnyResource>;
    }
  | {
      kind: 'nack';
      typeUrl: TypeUrl;
      version: string;
      nonce: string;
      code: number;
      message: string;
      /** The refused resources: see {@link blamedResources}. */
      resources: string[];
    }
  | { kind: 'unknown-type'; typeUrl: string }
  | { kind: 'stale-nonce'; typeUrl: string; nonce: string; expected: string };

/** The stream's view of its server: where snapshots come from, where events go. */
export interface StreamHost {
  /** Called once, when the first request has named the node (before anything is sent). */
  opened(stream: AdsStream): void;
  /** The snapshot this stream should converge on now. */
  snapshot(stream: AdsStream): Snapshot | undefined;
  report(stream: AdsStream, event: StreamEvent): void;
}

interface TypeState {
  wildcard: boolean;
  names: Set<string>;
  /** The last response sent on this stream for this type. */
  sent?: { version: string; nonce: string; names: string[]; items: ReadonlyMap<string, AnyResource> };
  inFlight: boolean;
  nacked: boolean;
}

/** Error for a request that breaks the protocol badly enough to end the stream. */
export class StreamProtocolError extends Error {}

let streamCounter = 0;

/** Protocol state of one ADS stream. Not shared; driven by one transport. */
export class AdsStream {
  readonly id = ++streamCounter;
  nodeId: string | undefined;
  private readonly types = new Map<TypeUrl, TypeState>();
  private nonce = 0;
  private closed = false;

  constructor(
    private readonly host: StreamHost,
    private readonly write: (response: DiscoveryResponse) => void,
  ) {}

  /**
   * Handles one request. Throws {@link StreamProtocolError} when the stream
   * must end (no node id on the first request, a missing type URL).
   */
  handle(req: DiscoveryRequest): void {
    if (this.closed) return;
    const nodeId = req.node?.id;
    if (this.nodeId === undefined) {
      if (!nodeId) throw new StreamProtocolError('the first request on a stream must carry node.id');
      this.nodeId = nodeId;
      this.host.opened(this);
    }
    const typeUrl = req.type_url ?? '';
    // NOTE: xDS protocol, ADS: type_url is required on every request of an aggregated stream.
    if (!typeUrl) throw new StreamProtocolError('type_url is required on an ADS stream');
    if (!isKnownType(typeUrl)) {
      this.host.report(this, { kind: 'unknown-type', typeUrl });
      return;
    }
    const state = this.stateOf(typeUrl);
    const nonce = req.response_nonce ?? '';
    if (nonce !== '' && nonce !== state.sent?.nonce) {
      this.host.report(this, { kind: 'stale-nonce', typeUrl, nonce, expected: state.sent?.nonce ?? '' });
      return;
    }
    if (nonce !== '' && state.sent && state.inFlight) {
      state.inFlight = false;
      const detail = req.error_detail;
      if (detail && (detail.message || detail.code)) {
        state.nacked = true;
        this.host.report(this, {
          kind: 'nack',
          typeUrl,
          version: state.sent.version,
          nonce,
          code: detail.code ?? 0,
          message: detail.message ?? '',
          resources: blamedResources(state.sent.names, detail.message ?? ''),
        });
      } else {
        state.nacked = false;
        this.host.report(this, {
          kind: 'ack',
          typeUrl,
          version: state.sent.version,
          nonce,
          items: state.sent.items,
        });
      }
    }
    if (nonce === '') {
      // A fresh subscription (first request for the type on this stream): always answered.
      state.sent = undefined;
      state.inFlight = false;
      state.nacked = false;
    }
    const names = req.resource_names ?? [];
    state.wildcard = WILDCARD_TYPES.has(typeUrl) && (names.length === 0 || names.includes('*'));
    state.names = new Set(names.filter((n) => n !== '*'));
    this.pump();
  }

  /** Pushes whatever the node's current snapshot requires, in order. Safe to call any time. */
  pump(): void {
    if (this.closed || this.nodeId === undefined) return;
    const snapshot = this.host.snapshot(this);
    if (!snapshot) return;
    const unsettled = new Set<TypeUrl>();
    const referrersSettled = REFERRERS.every((t) => this.settled(snapshot, t));
    for (const typeUrl of PUSH_ORDER) {
      const state = this.types.get(typeUrl);
      if (!state) continue;
      // A snapshot without the type (encodedSnapshot) has nothing to say about it yet.
      if (!snapshot.types.has(typeUrl) || WAITS_FOR[typeUrl].some((t) => unsettled.has(t))) {
        unsettled.add(typeUrl);
        continue;
      }
      const keep = !referrersSettled && REFERENCED.includes(typeUrl);
      const want = this.desired(snapshot, typeUrl, state, keep);
      if (!this.upToDate(state, want) && !state.inFlight && !(state.nacked && sameSent(state, want))) {
        this.send(typeUrl, state, want);
      }
      if (state.inFlight || state.nacked || !this.upToDate(state, want)) unsettled.add(typeUrl);
    }
  }

  /** Marks the stream gone; later calls do nothing. */
  close(): void {
    this.closed = true;
  }

  /** Subscribed types and their last sent versions (for status and logs). */
  describe(): Record<string, { version: string; inFlight: boolean; nacked: boolean }> {
    const out: Record<string, { version: string; inFlight: boolean; nacked: boolean }> = {};
    for (const [t, s] of this.types) {
      out[SHORT_NAME[t]] = { version: s.sent?.version ?? '', inFlight: s.inFlight, nacked: s.nacked };
    }
    return out;
  }

  private stateOf(typeUrl: TypeUrl): TypeState {
    let s = this.types.get(typeUrl);
    if (!s) {
      s = { wildcard: false, names: new Set(), inFlight: false, nacked: false };
      this.types.set(typeUrl, s);
    }
    return s;
  }

  /** Whether this stream's resources of `typeUrl` are ACKed at the snapshot's version (or not subscribed). */
  private settled(snapshot: Snapshot, typeUrl: TypeUrl): boolean {
    const state = this.types.get(typeUrl);
    if (!state) return true;
    if (!snapshot.types.has(typeUrl)) return false;
    return (
      !state.inFlight && !state.nacked && this.upToDate(state, this.desired(snapshot, typeUrl, state, false))
    );
  }

  /**
   * What the stream should have of `typeUrl`: the snapshot's subscribed
   * resources, plus (with `keep`) those last sent that the snapshot dropped.
   */
  private desired(snapshot: Snapshot, typeUrl: TypeUrl, state: TypeState, keep: boolean): Want {
    const all = snapshot.types.get(typeUrl);
    const items = new Map<string, AnyResource>();
    const wanted = (name: string) => state.wildcard || state.names.has(name);
    for (const [name, r] of all?.items ?? []) if (wanted(name)) items.set(name, r);
    let kept = 0;
    for (const [name, r] of keep ? (state.sent?.items ?? []) : []) {
      if (all?.items.has(name) || !wanted(name)) continue;
      items.set(name, r);
      kept++;
    }
    const names = [...items.keys()].sort();
    const version = keptVersion(all?.version ?? '', kept);
    return { version, names, resources: names.map((n) => items.get(n)!), items };
  }

  private upToDate(state: TypeState, want: Want): boolean {
    return state.sent !== undefined && sameSent(state, want);
  }

  private send(typeUrl: TypeUrl, state: TypeState, want: Want): void {
    const nonce = `${this.id}.${++this.nonce}`;
    state.sent = { version: want.version, nonce, names: want.names, items: want.items };
    state.inFlight = true;
    state.nacked = false;
    this.write({ version_info: want.version, resources: want.resources, type_url: typeUrl, nonce });
  }
}

interface Want {
  version: string;
  names: string[];
  resources: AnyResource[];
  items: ReadonlyMap<string, AnyResource>;
}

function sameSent(state: TypeState, want: Want): boolean {
  const sent = state.sent;
  if (!sent || sent.version !== want.version || sent.names.length !== want.names.length) return false;
  for (let i = 0; i < want.names.length; i++) if (sent.names[i] !== want.names[i]) return false;
  return true;
}

const NAME_CHAR = /[A-Za-z0-9._-]/;

/**
 * The resources a NACK refers to: those of the refused response (`sent`, the
 * names of the version the NACK's nonce answers) that the proxy's message
 * names as a whole word, else all of them.
 * NOTE: Envoy's error_detail names what it refused, e.g. "Error adding/updating
 * listener(s) shop-ingress: …"; a state-of-the-world response carries every
 * resource of the type, so the message is the only finer attribution.
 */
export function blamedResources(sent: readonly string[], message: string): string[] {
  const named = sent.filter((name) => {
    for (let i = message.indexOf(name); i >= 0; i = message.indexOf(name, i + 1)) {
      const before = message[i - 1] ?? ' ';
      const after = message[i + name.length] ?? ' ';
      if (!NAME_CHAR.test(before) && !NAME_CHAR.test(after)) return true;
    }
    return false;
  });
  return named.length > 0 ? named : [...sent];
}

const KEPT = '+kept';

/** The version of a response that also keeps `kept` resources the snapshot dropped (make before break). */
export function keptVersion(version: string, kept: number): string {
  return kept > 0 ? `${version}${KEPT}${kept}` : version;
}

/** The snapshot version a response's version stands for (`<version>+kept<N>` holds what `<version>` holds). */
export function snapshotVersion(version: string): string {
  const i = version.indexOf(KEPT);
  return i < 0 ? version : version.slice(0, i);
}
