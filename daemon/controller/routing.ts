/**
 * The routing table: what every service's traffic should do now, turned into
 * one xDS snapshot per configured proxy node.
 *
 * The listener of a service never changes once rendered: the Umbra filter is
 * always present, disabled by default, and mirrors to two role clusters,
 * `<service>-umbra-mirror` and `<service>-umbra-mirror-baseline`, whose
 * *endpoints* follow the mirror target (the candidate while shadowing, the
 * previous version while baking). Which requests enter the filter is the
 * routes' business (RDS: filter-gate.ts); whether and how much it mirrors is
 * steered over the telemetry control stream.
 * NOTE: an LDS update drains the listener's connections (seen on Envoy 1.40;
 * Envoy's listener docs: a changed listener is drained and replaced), so live
 * behaviour changes through EDS/RDS and the control stream, never LDS.
 */

import { splitHostPort } from '../config/addresses.js';
import { type ServiceConfig, telemetryAdvertise, type UmbraConfig } from '../config/schema.js';
import { logger } from '../log.js';
import type { Endpoint, Provisioner } from '../provision/provisioner.js';
import type { RouteEffect } from '../rollout/types.js';
import {
  CLUSTER_TYPE,
  type DesiredFilterGate,
  type DesiredRouting,
  type DesiredVersion,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  routeConfigName,
  routeWeights,
  SHORT_NAME,
  type TypeUrl,
  validateDesired,
  versionCluster,
  XdsNackError,
  type XdsServer,
} from '../xds/index.js';
import type { OverlayService } from '../xds/overlay/edits.js';
import type { OverlayRelay } from '../xds/overlay/relay.js';
import { publishServices } from '../xds/publish.js';
import type { DesiredEndpoint, DesiredFault } from '../xds/resources/desired.js';
import { SPLIT_HEADER } from '../xds/resources/filter-gate.js';
import type { RenderOptions } from '../xds/resources/render.js';
import type { Snapshot } from '../xds/snapshot.js';
import { desiredEgress } from './egress.js';
import { filterGatePlan, liveSampleEvery } from './filter-gate.js';

const log = logger('routing');

/** Pseudo-versions whose clusters the filter mirrors to. */
export const MIRROR_VERSION = 'umbra-mirror';
export const MIRROR_BASELINE_VERSION = 'umbra-mirror-baseline';

/** The routing a service has when no deployment says otherwise. */
export interface ServiceRoute {
  weights: Record<string, number>;
  mirror: RouteEffect['mirror'];
  /** A deployment phase needs the Umbra filter on the service's routes. */
  filter: boolean;
  /** An A/B experiment's version B: the split's users are routed to it. */
  split?: string;
  /** Faults on the candidate's (and baseline's) calls to the service's dependencies (egress.ts). */
  faults?: readonly DesiredFault[];
}

/** Where each filter setting comes from in a service's umbra.yaml entry (for errors). */
export const FILTER_SETTING_PATHS: Readonly<Record<string, string>> = {
  mirroringStrategy: 'mirroring.mirroringStrategy',
  methods: 'mirroring.methods',
  includePaths: 'mirroring.paths.include',
  excludePaths: 'mirroring.paths.exclude',
  maxBodyBytes: 'mirroring.maxBodyBytes',
  stripHeaders: 'mirroring.stripHeaders',
  shadowTimeoutMs: 'mirroring.timeout',
  segmentHeader: 'mirroring.userSegment.header',
  segmentCookie: 'mirroring.userSegment.cookie',
  segmentBuckets: 'mirroring.userSegment.buckets',
  regionHeader: 'mirroring.geographic.header',
  regions: 'mirroring.geographic.regions',
};

/**
 * The filter's plugin configuration from the service's mirroring settings
 * (`wholeRoute`: overlay mode, see filter-gate.ts).
 */
export function filterSettings(s: ServiceConfig, wholeRoute = false): Record<string, unknown> {
  const m = s.mirroring;
  const out: Record<string, unknown> = {
    // The filter starts silent; the daemon sets the share over the control stream.
    shadowPercentage: 0,
    mirroringStrategy: m.mirroringStrategy,
    methods: m.methods,
    includePaths: m.paths.include,
    excludePaths: m.paths.exclude,
    maxBodyBytes: m.maxBodyBytes,
    stripHeaders: m.stripHeaders,
    shadowTimeoutMs: m.timeout,
    liveSampleEvery: liveSampleEvery(s, wholeRoute),
  };
  if (m.userSegment) out['outcomeHeader'] = s.experiments.outcomeHeader;
  if (m.userSegment?.header) out['segmentHeader'] = m.userSegment.header;
  if (m.userSegment?.cookie) out['segmentCookie'] = m.userSegment.cookie;
  if (m.userSegment) out['segmentBuckets'] = m.userSegment.buckets;
  if (m.geographic) {
    out['regionHeader'] = m.geographic.header;
    out['regions'] = m.geographic.regions;
  }
  return out;
}

/**
 * The desired routing of one service: its route (weights, mirror) and where
 * each version runs. Pure; shared by the routing table and `config check`.
 * `telemetryPort` is the port the telemetry server bound, when it listens
 * (it differs from daemon.telemetry.listen's when that asks for port 0).
 * `telemetryMembers`: with several daemons, every live daemon's telemetry
 * address (the proxies' telemetry cluster lists them all).
 */
export function desiredRouting(
  config: UmbraConfig,
  service: ServiceConfig,
  route: ServiceRoute,
  endpointsOf: (version: string, pool: 'main' | 'baseline') => Endpoint[],
  telemetryToken?: string,
  telemetryPort?: number,
  telemetryMembers?: DesiredEndpoint[],
): DesiredRouting {
  const wholeRoute = overlayMode(config);
  const toDesired = (eps: Endpoint[]) => eps.map((e) => ({ address: e.host, port: e.port }));
  const serving = Object.keys(route.weights).filter((v) => (route.weights[v] ?? 0) > 0);
  const versions: DesiredVersion[] = serving.map((v) => ({
    name: v,
    endpoints: toDesired(endpointsOf(v, 'main')),
  }));
  // Without a mirror the role clusters have no endpoints: a filter that still
  // mirrored (one that missed the pause) reaches nobody, never a serving version twice.
  const target = route.mirror ? toDesired(endpointsOf(route.mirror.target, 'main')) : [];
  versions.push({ name: MIRROR_VERSION, endpoints: target });
  if (route.split && !serving.includes(route.split))
    versions.push({ name: route.split, endpoints: toDesired(endpointsOf(route.split, 'main')) });
  const withBaseline = service.mirroring.baseline;
  if (withBaseline) {
    const base = route.mirror?.baseline ? toDesired(endpointsOf(route.mirror.baseline, 'baseline')) : [];
    versions.push({ name: MIRROR_BASELINE_VERSION, endpoints: base });
  }
  const listen = splitHostPort(service.listen);
  const telemetry = telemetryAdvertise(config.daemon, telemetryPort);
  const proxyTls = config.daemon.telemetry.tls?.proxy;
  // Weights of versions that have no healthy endpoint yet are held at 0 (Envoy would 503 them).
  const weights: Record<string, number> = {};
  for (const v of versions)
    if (serving.includes(v.name) && v.endpoints.length > 0) weights[v.name] = route.weights[v.name]!;
  const egress = desiredEgress(service, route, route.faults ?? []);
  return {
    service: service.name,
    listener: { name: `${service.name}-ingress`, address: listen.host, port: listen.port },
    ...(egress ? { egress } : {}),
    versions,
    weights,
    mirror: {
      candidate: MIRROR_VERSION,
      ...(withBaseline ? { baseline: MIRROR_BASELINE_VERSION } : {}),
      filterConfig: filterSettings(service, wholeRoute),
    },
    ...gateOf(service, route, wholeRoute),
    ...(route.split ? { split: { version: route.split, header: SPLIT_HEADER } } : {}),
    telemetry: {
      address: telemetry.host,
      port: telemetry.port,
      ...(proxyTls ? { tls: proxyTls } : {}),
      ...(telemetryToken ? { token: telemetryToken } : {}),
      ...(telemetryMembers ? { members: telemetryMembers } : {}),
    },
  };
}

/**
 * Overlay mode: the upstream's route configuration (the first by name) that
 * sends to the service's upstream cluster or to one of Umbra's clusters of it.
 */
function upstreamRouteConfig(snapshot: Snapshot | undefined, cluster: string, prefix: string): string {
  for (const [name, r] of snapshot?.types.get(ROUTE_TYPE)?.items ?? []) {
    const clusters = Object.keys(routeWeights(r));
    if (clusters.some((c) => c === cluster || c.startsWith(prefix))) return name;
  }
  return '';
}

/** A service's routing as an overlay edit: its upstream cluster serves the configured stable version. */
export function overlayService(
  service: ServiceConfig,
  desired: DesiredRouting,
  index: number,
): OverlayService {
  const o = service.overlay ?? { cluster: service.name, listener: `${service.name}-ingress` };
  return {
    at: `services[${index}]`,
    upstreamCluster: o.cluster,
    listener: o.listener,
    stable: service.stable,
    desired,
  };
}

/** Overlay mode: the proxies' routes are an upstream control plane's, relayed and edited. */
function overlayMode(config: UmbraConfig): boolean {
  return config.daemon.xds.upstream !== undefined;
}

/** The routes' filter gate for a service's route (none: the filter runs for no request). */
function gateOf(
  service: ServiceConfig,
  route: ServiceRoute,
  wholeRoute: boolean,
): { filterGate?: DesiredFilterGate } {
  const { gate } = filterGatePlan(service, {
    filter: route.filter,
    mirrorPercentage: route.mirror?.percentage ?? null,
    wholeRoute,
  });
  return gate ? { filterGate: gate } : {};
}

export interface RoutingTableOptions {
  config: UmbraConfig;
  xds: XdsServer;
  provisioners: Map<string, Provisioner>;
  /** How long a publish waits for connected proxies to ACK. */
  ackTimeoutMs?: number;
  /** The token the filters present on their telemetry streams, when the telemetry server requires one. */
  telemetryToken?: string;
  /**
   * Overlay mode: the services' routing goes to the relay as edits of what
   * the upstream control plane sends each node, instead of whole snapshots.
   */
  overlay?: OverlayRelay;
  /** The port the telemetry server bound (the proxies' telemetry cluster points there). */
  telemetryPort?: number;
  /**
   * Several daemons on a shared store: every live daemon's telemetry address
   * now (the proxies' telemetry cluster lists them all, through EDS).
   */
  telemetryMembers?: () => DesiredEndpoint[];
  /**
   * Several daemons on a shared store: the proxies connected to the other
   * daemons, whose ACKs reach this one through the store. A publish waits
   * for those too, as for its own proxies.
   */
  remoteProxies?: RemoteProxies;
}

/** Proxies connected to other daemons of a shared store (see {@link RoutingTableOptions.remoteProxies}). */
export interface RemoteProxies {
  /**
   * Nodes with an ADS stream open on another live daemon and no refusal
   * (NACK) standing there (may throw: the store is out of reach).
   */
  awaited(): ReadonlySet<string>;
  /** As XdsServer.waitForAck, for the node's ACKs on the other daemons. */
  waitForAck(nodeId: string, typeUrl: TypeUrl, version: string, timeoutMs: number): Promise<void>;
  /** Per node and other daemon it is connected to, the versions it ACKed there by short type name (may throw). */
  acked(): { node: string; acked: Record<string, string> }[];
}

/** What one proxy runs for a service, as it ACKed it, next to what the daemon wants. */
export interface ProxyRouting {
  nodeId: string;
  /** An ADS stream of this node is open. */
  connected: boolean;
  /** Live traffic weight per version in the routes the daemon publishes (empty before the first publish). */
  desired: Record<string, number>;
  /** Weight per version in the routes the proxy ACKed; null when it never ACKed this service's routes. */
  acked: Record<string, number> | null;
  /** The proxy ACKed every resource type of the current snapshot. */
  inSync: boolean;
}

/**
 * The first answer of a node's proxies on several daemons: an ACK anywhere
 * resolves, a NACK anywhere rejects at once (a node is one configuration
 * however many proxies share its id); otherwise the first error, once all failed.
 */
function firstAnswer(waits: Promise<void>[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed = 0;
    let first: unknown;
    for (const w of waits) {
      w.then(resolve, (err: unknown) => {
        if (err instanceof XdsNackError) reject(err);
        first ??= err;
        if (++failed === waits.length) reject(first);
      });
    }
  });
}

/** Thrown when connected proxies do not answer a published configuration in time. */
export class RoutingRefused extends Error {}

export class RoutingTable {
  readonly #o: RoutingTableOptions;
  readonly #routes = new Map<string, ServiceRoute>();
  readonly #faults = new Map<string, readonly DesiredFault[]>();
  readonly #services: Map<string, ServiceConfig>;
  /** What was last published for each service: kept while the service cannot be rendered. */
  readonly #lastRoutable = new Map<string, DesiredRouting>();

  constructor(o: RoutingTableOptions) {
    this.#o = o;
    this.#services = new Map(o.config.services.map((s) => [s.name, s]));
  }

  /** Sets a service's serving version with no deployment in progress. */
  setServing(service: string, version: string): void {
    this.#routes.set(service, { weights: { [version]: 100 }, mirror: null, filter: false });
  }

  /** Sets a service's routing from a route effect without publishing (at start, before the first publish). */
  setRoute(effect: RouteEffect): void {
    this.#routes.set(effect.service, {
      weights: { ...effect.weights },
      mirror: effect.mirror,
      filter: effect.filter,
    });
  }

  /**
   * Routes an A/B split's users to `version` (null: no split) and publishes.
   * The rest of the service's route is kept; a route effect of a deployment
   * replaces it (experiments and deployments never run at once).
   */
  async setSplit(service: string, version: string | null): Promise<void> {
    const cfg = this.#services.get(service);
    const route = this.#routes.get(service) ?? {
      weights: { [cfg?.stable ?? '']: 100 },
      mirror: null,
      filter: false,
    };
    const { split: _old, ...rest } = route;
    this.#routes.set(service, version ? { ...rest, split: version } : rest);
    await this.publish();
  }

  /**
   * Sets the faults on the service's non-production calls to its
   * dependencies (none: an empty list) and publishes, as {@link apply}.
   */
  async setFaults(service: string, faults: readonly DesiredFault[]): Promise<void> {
    this.#faults.set(service, [...faults]);
    await this.publish();
  }

  /** The faults set on a service's egress now. */
  faults(service: string): readonly DesiredFault[] {
    return this.#faults.get(service) ?? [];
  }

  /** The routing a service has now. */
  route(service: string): ServiceRoute | undefined {
    return this.#routes.get(service);
  }

  /**
   * The percentage the service's filters must apply to the requests that
   * enter them for `percentage` % of all eligible requests to be mirrored
   * under the current route's gate (filter-gate.ts).
   */
  insidePercentage(service: string, percentage: number): number {
    const cfg = this.#services.get(service);
    const route = this.#routes.get(service);
    if (!cfg || !route) return percentage;
    const plan = filterGatePlan(cfg, {
      filter: route.filter,
      mirrorPercentage: route.mirror?.percentage ?? null,
      wholeRoute: overlayMode(this.#o.config),
    });
    return plan.insidePercentage(percentage);
  }

  /** Applies a route effect and publishes; resolves once connected proxies ACK (or NACK: see publish). */
  async apply(effect: RouteEffect): Promise<void> {
    this.setRoute(effect);
    await this.publish();
  }

  /** The desired routing of one service from its route and its pools' endpoints. */
  desired(service: ServiceConfig): DesiredRouting {
    const route = this.#routes.get(service.name) ?? {
      weights: { [service.stable]: 100 },
      mirror: null,
      filter: false,
    };
    const prov = this.#o.provisioners.get(service.name);
    return desiredRouting(
      this.#o.config,
      service,
      { ...route, faults: this.faults(service.name) },
      (version, pool) => (prov ? prov.endpoints({ version, pool }) : []),
      this.#o.telemetryToken,
      this.#o.telemetryPort,
      this.#o.telemetryMembers?.(),
    );
  }

  /** Per configured proxy: the weights it ACKed for the service and those the daemon wants. */
  proxies(service: string): ProxyRouting[] {
    const prefix = versionCluster(service, '');
    // Overlay mode: the upstream's own cluster of the service serves its stable version.
    const config = this.#services.get(service);
    const upstreamCluster = this.#o.overlay ? config?.overlay?.cluster : undefined;
    const byVersion = (w: Record<string, number>): Record<string, number> =>
      Object.fromEntries(
        Object.entries(w).map(([cluster, weight]) => [
          cluster === upstreamCluster
            ? config!.stable
            : cluster.startsWith(prefix)
              ? cluster.slice(prefix.length)
              : cluster,
          weight,
        ]),
      );
    const nodes = this.#o.overlay ? this.#o.xds.nodeIds() : this.#o.config.daemon.xds.nodes;
    const elsewhere = this.#remoteAcked();
    return nodes.map((nodeId) => {
      const xds = this.#o.xds;
      const snapshot = xds.snapshot(nodeId);
      const name = upstreamCluster
        ? upstreamRouteConfig(snapshot, upstreamCluster, prefix)
        : routeConfigName(service);
      const want = snapshot?.types.get(ROUTE_TYPE)?.items.get(name);
      const have = xds.ackedResource(nodeId, ROUTE_TYPE, name);
      const status = xds.status(nodeId);
      const syncedWith = (acked: Record<string, string> | undefined) =>
        snapshot !== undefined &&
        [...snapshot.types].every(
          ([type, r]) => r.items.size === 0 || acked?.[SHORT_NAME[type]] === r.version,
        );
      // Several daemons: what the node ACKed on the others counts as well. Only versions are known
      // there, so its routes' weights are known only when it ACKed the current route configuration.
      const remote = elsewhere.filter((e) => e.node === nodeId).map((e) => e.acked);
      const routeVersion = snapshot?.types.get(ROUTE_TYPE)?.version;
      const remoteRoutes = want !== undefined && remote.some((a) => a['RDS'] === routeVersion);
      return {
        nodeId,
        connected: (status?.streams ?? 0) > 0 || remote.length > 0,
        desired: want ? byVersion(routeWeights(want)) : {},
        acked: have ? byVersion(routeWeights(have)) : remoteRoutes ? byVersion(routeWeights(want!)) : null,
        inSync: syncedWith(status?.acked) || remote.some(syncedWith),
      };
    });
  }

  /** What the nodes ACKed on the other daemons (none when that cannot be read). */
  #remoteAcked(): { node: string; acked: Record<string, string> }[] {
    try {
      return this.#o.remoteProxies?.acked() ?? [];
    } catch {
      return [];
    }
  }

  /** Publishes to every node; returns the versions published per node. */
  #publishAll(
    routable: DesiredRouting[],
    options: RenderOptions,
  ): Iterable<[string, Record<string, string>]> {
    const overlay = this.#o.overlay;
    if (overlay) {
      const services = routable.map((d) =>
        overlayService(this.#services.get(d.service)!, d, this.#index(d.service)),
      );
      return overlay.setEdits({ services, ...(options.filter ? { filter: options.filter } : {}) });
    }
    return this.#o.config.daemon.xds.nodes.map((node): [string, Record<string, string>] => {
      const published = publishServices(this.#o.xds, node, routable, options);
      if (!published.ok) throw new Error(`inconsistent configuration: ${published.errors.join('; ')}`);
      return [node, published.versions];
    });
  }

  /**
   * The nodes connected to other daemons now, without a standing refusal
   * there (none when that cannot be read: the publish goes on).
   */
  #remoteAwaited(): ReadonlySet<string> {
    try {
      return this.#o.remoteProxies?.awaited() ?? new Set();
    } catch (err) {
      log.warn('proxies of the other daemons not known; not waiting for them', {
        error: (err as Error).message,
      });
      return new Set();
    }
  }

  #index(service: string): number {
    return this.#o.config.services.findIndex((s) => s.name === service);
  }

  /**
   * Renders every service, checks it, and publishes it to every configured
   * node; waits for the ACK of nodes that are connected. A service that
   * cannot be rendered now (no healthy endpoint in any serving version)
   * keeps what it was last published with; one never published is left out.
   * NOTE: leaving a published service out of a node's snapshot would remove
   * its listener (state of the world: what is not sent is deleted), refusing
   * every connection even where its instances still answer; the last
   * routing keeps it served while its instances' health comes back.
   */
  async publish(): Promise<void> {
    const routable: DesiredRouting[] = [];
    for (const service of this.#services.values()) {
      const d = this.desired(service);
      const errors = validateDesired(d);
      const last = this.#lastRoutable.get(service.name);
      if (errors.length === 0) {
        this.#lastRoutable.set(service.name, d);
        routable.push(d);
      } else if (last) {
        log.warn('service not routable now; its last routing stays published', {
          service: service.name,
          errors,
        });
        routable.push(last);
      } else log.warn('service not routable yet', { service: service.name, errors });
    }
    // The overlay publishes even without a routable service: the upstream's resources must flow.
    if (routable.length === 0 && !this.#o.overlay) return;
    const options = { filter: { wasmPath: this.#o.config.daemon.filter.wasmPath } };
    const waits: Promise<void>[] = [];
    const remote = this.#remoteAwaited();
    const timeoutMs = this.#o.ackTimeoutMs ?? 10_000;
    for (const [node, versions] of this.#publishAll(routable, options)) {
      const status = this.#o.xds.status(node);
      // NOTE: a proxy that refused a listener never subscribes to its route
      // configuration, so waiting for its ACKs would only time out and be
      // blamed on whatever published next (a provisioning). While a refusal
      // stands the node's answers act through refusal-feed.ts instead.
      const local = (status?.streams ?? 0) > 0 && !status?.lastNack;
      // Also connected to another daemon (several daemons): its ACKs there count as well.
      const elsewhere = remote.has(node);
      if (!local && !elsewhere) continue;
      for (const [short, type] of [
        ['CDS', CLUSTER_TYPE],
        ['EDS', ENDPOINT_TYPE],
        ['LDS', LISTENER_TYPE],
        ['RDS', ROUTE_TYPE],
      ] as const) {
        const version = versions[short];
        if (!version) continue;
        const here = local ? [this.#o.xds.waitForAck(node, type, version, timeoutMs)] : [];
        const there = elsewhere ? [this.#o.remoteProxies!.waitForAck(node, type, version, timeoutMs)] : [];
        const all = [...here, ...there];
        waits.push(all.length === 1 ? all[0]! : firstAnswer(all));
      }
    }
    const results = await Promise.allSettled(waits);
    // A NACK is not this publish's failure: it is attributed to the version the proxy refused and
    // acts through the xDS server's `nack` event (refusal-feed.ts), so a later push, or the
    // provisioning that published new endpoints, is never blamed for it.
    const failed = results.find(
      (r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof XdsNackError),
    );
    if (failed) throw new RoutingRefused(String((failed.reason as Error)?.message ?? failed.reason));
  }
}
