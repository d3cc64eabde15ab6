/**
 * Desired routing of a service → Envoy resources (plain objects in proto
 * field names; `createSnapshot` encodes and checks them).
 *
 * What goes where, so that a weight or endpoint change touches only RDS/EDS:
 * - LDS: the listener: HCM with RDS over ADS, [Umbra Wasm filter, disabled
 *   by default], router. It names the route configuration, never clusters,
 *   weights or which requests run the filter.
 * - RDS: one virtual host; its routes (filter-gate.ts) share one action
 *   (weighted clusters, timeout) and enable the filter where the desired
 *   `filterGate` says; each is split by method for its retries (retry.ts).
 * - CDS: one EDS cluster per version (`<service>-<version>`), plus the
 *   telemetry cluster `umbra-telemetry` (static, HTTP/2, TLS when the
 *   desired telemetry says so).
 * - EDS: one load assignment per version.
 * - With dependencies: the egress listener, its routes and clusters (egress.ts).
 */
import { isIP } from 'node:net';
import type { SnapshotInput } from '../snapshot.js';
import { HCM_TYPE, ROUTER_TYPE } from '../type-urls.js';
import type { DesiredRouting, DesiredTelemetry } from './desired.js';
import { egressResources } from './egress.js';
import { duration, http1Options, http2Options, loadAssignment, socketAddress } from './envoy-parts.js';
import { FILTER_NAME, gatedRoutes, splitRoutes } from './filter-gate.js';
import { routeConfigName, TELEMETRY_CLUSTER, versionCluster } from './names.js';
import { retryBudget, withRetries } from './retry.js';
import { upstreamTlsSocket } from './tls.js';

const WASM_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';
const STRING_VALUE_TYPE = 'type.googleapis.com/google.protobuf.StringValue';

/** How the service is rendered. */
export interface RenderOptions {
  /**
   * `envoy` (default): a TCP listener. `grpc`: an API listener named after the
   * service, for proxyless gRPC clients resolving `xds:///<service>` (no filter).
   */
  proxy?: 'envoy' | 'grpc';
  /**
   * Render the Umbra Wasm filter (when the desired routing has a mirror
   * candidate). Absent: no filter, whatever `mirror` says.
   */
  filter?: { wasmPath: string; failOpen?: boolean };
}

function versionClusterResource(name: string, http2: boolean): object {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    connect_timeout: duration(1000),
    lb_policy: 'ROUND_ROBIN',
    circuit_breakers: retryBudget(),
    typed_extension_protocol_options: http2 ? http2Options() : http1Options(),
  };
}

function telemetryClusterResource(t: DesiredTelemetry): object {
  return {
    name: TELEMETRY_CLUSTER,
    type: isIP(t.address) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: duration(1000),
    typed_extension_protocol_options: http2Options(),
    load_assignment: loadAssignment(TELEMETRY_CLUSTER, [{ address: t.address, port: t.port }]),
    ...(t.tls ? { transport_socket: upstreamTlsSocket(t.tls) } : {}),
  };
}

/**
 * The Umbra filter's plugin configuration: the service spec plus the cluster
 * names. `unnamedRoutes`: every route the filter runs on is one this module
 * renders, all unnamed (see routeResource), so the filter takes the endpoint
 * from the path without first asking Envoy for the route's name, one host
 * call less per record (a spec's own `endpointFrom` wins). Routes written by
 * someone else (the overlay) may be named, and keep `route`.
 */
export function filterConfiguration(d: DesiredRouting, unnamedRoutes = false): Record<string, unknown> {
  const m = d.mirror!;
  return {
    ...(unnamedRoutes ? { endpointFrom: 'path' } : {}),
    ...m.filterConfig,
    service: d.service,
    candidateCluster: versionCluster(d.service, m.candidate!),
    ...(m.baseline ? { baselineCluster: versionCluster(d.service, m.baseline) } : {}),
    ...(d.telemetry ? { telemetryCluster: TELEMETRY_CLUSTER } : {}),
    ...(d.telemetry?.token ? { telemetryToken: d.telemetry.token } : {}),
  };
}

export function wasmFilter(
  d: DesiredRouting,
  filter: NonNullable<RenderOptions['filter']>,
  unnamedRoutes = false,
): object {
  return {
    name: FILTER_NAME,
    // Off unless the request's route enables it (filter-gate.ts): idle routes cost nothing.
    disabled: true,
    typed_config: {
      '@type': WASM_TYPE,
      config: {
        name: `umbra-${d.service}`,
        root_id: 'umbra',
        configuration: {
          '@type': STRING_VALUE_TYPE,
          value: JSON.stringify(filterConfiguration(d, unnamedRoutes)),
        },
        fail_open: filter.failOpen ?? true,
        vm_config: {
          vm_id: 'umbra',
          runtime: 'envoy.wasm.runtime.v8',
          code: { local: { filename: filter.wasmPath } },
        },
      },
    },
  };
}

function connectionManager(d: DesiredRouting, options: RenderOptions): object {
  const httpFilters: object[] = [];
  if (hasFilter(d, options)) {
    httpFilters.push(wasmFilter(d, options.filter!, true));
  }
  httpFilters.push({ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } });
  return {
    '@type': HCM_TYPE,
    stat_prefix: d.service,
    rds: {
      route_config_name: routeConfigName(d.service),
      config_source: { ads: {}, resource_api_version: 'V3' },
    },
    http_filters: httpFilters,
  };
}

function listenerResource(d: DesiredRouting, options: RenderOptions): object {
  if (options.proxy === 'grpc') {
    return { name: d.service, api_listener: { api_listener: connectionManager(d, options) } };
  }
  return {
    name: d.listener.name,
    address: socketAddress(d.listener),
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: connectionManager(d, options),
          },
        ],
      },
    ],
  };
}

/** Whether the listener carries the Umbra filter. */
function hasFilter(d: DesiredRouting, options: RenderOptions): boolean {
  return options.filter !== undefined && options.proxy !== 'grpc' && d.mirror?.candidate !== undefined;
}

function routeResource(d: DesiredRouting, options: RenderOptions): object {
  const clusters = d.versions
    .filter((v) => (d.weights[v.name] ?? 0) > 0)
    .map((v) => ({ name: versionCluster(d.service, v.name), weight: { value: d.weights[v.name] } }));
  const total = clusters.reduce((sum, c) => sum + c.weight.value!, 0);
  const timeout = duration(d.routeTimeoutMs ?? 15_000);
  const action = { weighted_clusters: { clusters }, timeout };
  const gate = hasFilter(d, options) ? d.filterGate : undefined;
  const split = hasFilter(d, options) ? d.split : undefined;
  const routes = split
    ? splitRoutes(action, versionCluster(d.service, split.version), split.header, timeout)
    : gatedRoutes(action, gate, total);
  return {
    name: routeConfigName(d.service),
    virtual_hosts: [
      {
        name: d.service,
        domains: ['*'],
        // NOTE: unnamed on purpose: the Umbra filter reports a named route as
        // the endpoint, and one catch-all route would make every request one
        // endpoint; unnamed, it reports the normalised path.
        // Proxyless gRPC clients take no Envoy retry conditions: their routes stay as they are.
        routes: options.proxy === 'grpc' ? routes : withRetries(routes),
      },
    ],
  };
}

/**
 * Renders one service. Pure; `d` must have passed `validateDesired`.
 * Combine several services with {@link mergeResources}.
 */
export function renderService(d: DesiredRouting, options: RenderOptions = {}): SnapshotInput {
  const clusters: object[] = [];
  const endpoints: object[] = [];
  for (const v of d.versions) {
    const name = versionCluster(d.service, v.name);
    clusters.push(versionClusterResource(name, d.upstreamHttp2 ?? false));
    endpoints.push(loadAssignment(name, v.endpoints));
  }
  if (d.telemetry && options.proxy !== 'grpc') clusters.push(telemetryClusterResource(d.telemetry));
  const egress = d.egress && options.proxy !== 'grpc' ? egressResources(d.service, d.egress) : undefined;
  return {
    clusters: [...clusters, ...(egress?.clusters ?? [])],
    endpoints,
    listeners: [listenerResource(d, options), ...(egress?.listeners ?? [])],
    routes: [routeResource(d, options), ...(egress?.routes ?? [])],
  };
}

/**
 * Merges rendered services into one node's resources. Resources with the same
 * name (the shared telemetry cluster) are kept once; the first wins.
 */
export function mergeResources(parts: SnapshotInput[]): SnapshotInput {
  const out: Required<SnapshotInput> = { clusters: [], endpoints: [], listeners: [], routes: [] };
  const seen = new Set<string>();
  for (const part of parts) {
    for (const key of ['clusters', 'endpoints', 'listeners', 'routes'] as const) {
      for (const r of part[key] ?? []) {
        const o = r as { name?: string; cluster_name?: string };
        const id = `${key}/${o.name ?? o.cluster_name}`;
        if (seen.has(id)) continue;
        seen.add(id);
        out[key].push(r);
      }
    }
  }
  return out;
}
