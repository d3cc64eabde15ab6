/**
 * A service's egress listener: the versions' calls to their dependencies.
 *
 * - LDS: `<service>-egress` at the desired address: HCM with RDS over ADS,
 *   [fault filter, disabled by default], router. Never changes with faults.
 * - RDS: `<service>-egress-routes`, one route per (caller, dependency),
 *   matched by the path prefix the caller was handed (names.ts `egressPath`)
 *   and stripped before the call goes on. A fault enables the fault filter
 *   on the routes of non-production callers alone, with its delay and abort.
 * - CDS: one cluster per dependency, `umbra-egress-<service>-<dependency>`,
 *   with its address inline (STATIC for an IP, STRICT_DNS for a name); and
 *   per dependency with a reset fault, `umbra-reset-<service>-<dependency>`.
 *
 * NOTE: Envoy's HTTP fault filter delays and aborts, but has no reset (its
 * docs list delay, abort and rate limits only). A reset fault therefore
 * weights the non-production callers' route between the dependency and a
 * listener that resets every connection it accepts (the daemon's reset
 * sink): Envoy meets a real reset on those calls and answers the caller as
 * it answers any upstream reset (503, `upstream connect error or
 * disconnect/reset before headers`). Production's routes keep their single
 * cluster.
 *
 * NOTE: a filter disabled in the HCM and not enabled by the request's route
 * is not created for that request (filter-gate.ts): production's calls never
 * enter the fault filter at all. Faults come and go through RDS alone, so no
 * connection drains. The fault filter takes an `HTTPFault` per route in place
 * of its listener-level configuration (Envoy's fault filter docs, route-level
 * configuration), here wrapped in a `FilterConfig` that also enables it.
 */
import { isIP } from 'node:net';
import type { SnapshotInput } from '../snapshot.js';
import { HCM_TYPE, ROUTER_TYPE } from '../type-urls.js';
import type { DesiredEgress, DesiredEgressCaller, DesiredFault } from './desired.js';
import { duration, http1Options, loadAssignment, socketAddress } from './envoy-parts.js';
import {
  dependencyCluster,
  egressListenerName,
  egressPath,
  egressRouteConfigName,
  resetCluster,
} from './names.js';

/** The fault filter's name in the egress HCM (the key of `typed_per_filter_config`). */
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';
const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const FILTER_CONFIG_TYPE = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';
/** Per call to a dependency; long enough for any injected delay the CLI accepts. */
const EGRESS_TIMEOUT_MS = 60_000;

function percentage(percent: number): object {
  return { numerator: Math.round(Math.min(100, Math.max(0, percent)) * 10_000), denominator: 'MILLION' };
}

/** The `HTTPFault` of one dependency's faults (a delay, an abort, or both). */
export function httpFault(faults: DesiredFault[]): Record<string, unknown> {
  const out: Record<string, unknown> = { '@type': FAULT_TYPE };
  for (const f of faults) {
    if (f.reset !== undefined) continue;
    if (f.delayMs !== undefined)
      out['delay'] = { fixed_delay: duration(f.delayMs), percentage: percentage(f.percent) };
    if (f.abortStatus !== undefined)
      out['abort'] = { http_status: f.abortStatus, percentage: percentage(f.percent) };
  }
  return out;
}

/** Faults reach callers that play no part in production, never the others. */
export function faultsReach(caller: DesiredEgressCaller): boolean {
  return caller.role === 'candidate' || caller.role === 'baseline';
}

/** Weights in thousandths of a percent: a share of 0.001 % still gets its calls. */
const SHARE_SCALE = 1000;

/** Where a route's calls go: the dependency, or a share of them to its reset sink. */
function destination(service: string, dependency: string, reset: DesiredFault | undefined): object {
  const cluster = dependencyCluster(service, dependency);
  if (!reset) return { cluster };
  const toReset = Math.round(Math.min(100, Math.max(0, reset.percent)) * SHARE_SCALE);
  if (toReset >= 100 * SHARE_SCALE) return { cluster: resetCluster(service, dependency) };
  return {
    weighted_clusters: {
      clusters: [
        { name: cluster, weight: { value: 100 * SHARE_SCALE - toReset } },
        { name: resetCluster(service, dependency), weight: { value: Math.max(1, toReset) } },
      ],
    },
  };
}

function egressRoutes(service: string, e: DesiredEgress): object[] {
  const routes: object[] = [];
  for (const caller of e.callers) {
    for (const dep of e.dependencies) {
      const all = faultsReach(caller) ? e.faults.filter((f) => f.dependency === dep.name) : [];
      const reset = all.find((f) => f.reset !== undefined);
      const faults = all.filter((f) => f.reset === undefined);
      const perFilter =
        faults.length > 0
          ? {
              typed_per_filter_config: {
                [FAULT_FILTER_NAME]: { '@type': FILTER_CONFIG_TYPE, config: httpFault(faults) },
              },
            }
          : {};
      const path = egressPath(service, caller.version, caller.pool, dep.name);
      const action = {
        ...destination(service, dep.name, reset),
        prefix_rewrite: '/',
        timeout: duration(EGRESS_TIMEOUT_MS),
      };
      // `/<prefix>` alone and `/<prefix>/…`: the dependency sees `/` and `/…`.
      const name = `${caller.version}/${caller.pool}/${dep.name}`;
      routes.push({ name, match: { path }, route: action, ...perFilter });
      routes.push({ name, match: { prefix: `${path}/` }, route: action, ...perFilter });
    }
  }
  return routes;
}

function egressListener(service: string, e: DesiredEgress): object {
  const hcm = {
    '@type': HCM_TYPE,
    stat_prefix: egressListenerName(service),
    rds: {
      route_config_name: egressRouteConfigName(service),
      config_source: { ads: {}, resource_api_version: 'V3' },
    },
    http_filters: [
      // An empty HTTPFault: the routes bring the faults, where they enable it.
      { name: FAULT_FILTER_NAME, disabled: true, typed_config: { '@type': FAULT_TYPE } },
      { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } },
    ],
  };
  return {
    name: egressListenerName(service),
    address: socketAddress(e.listener),
    filter_chains: [
      { filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }] },
    ],
  };
}

/** The egress listener, its routes and one cluster per dependency. Pure; `e` must be valid. */
export function egressResources(service: string, e: DesiredEgress): Required<SnapshotInput> {
  const cluster = (name: string, endpoint: DesiredEgress['listener']) => ({
    name,
    type: isIP(endpoint.address) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: duration(1000),
    typed_extension_protocol_options: http1Options(),
    load_assignment: loadAssignment(name, [endpoint]),
  });
  const clusters = e.dependencies.map((dep) => cluster(dependencyCluster(service, dep.name), dep.endpoint));
  for (const f of e.faults)
    if (f.reset !== undefined) clusters.push(cluster(resetCluster(service, f.dependency), f.reset));
  return {
    clusters,
    endpoints: [],
    listeners: [egressListener(service, e)],
    routes: [
      {
        name: egressRouteConfigName(service),
        virtual_hosts: [
          { name: egressListenerName(service), domains: ['*'], routes: egressRoutes(service, e) },
        ],
      },
    ],
  };
}
