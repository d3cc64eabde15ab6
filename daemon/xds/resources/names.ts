/** Resource naming conventions shared by the renderer, the bootstrap and the filter. */

export { egressPath } from '../../config/dependencies.js';

/** The daemon's telemetry ingest cluster (HTTP/2). */
export const TELEMETRY_CLUSTER = 'umbra-telemetry';

/** The xDS cluster defined in the Envoy bootstrap (envoy/bootstrap.yaml). */
export const XDS_CLUSTER = 'umbra-xds';

/** Cluster (and EDS resource) of one version of a service: `<service>-<version>`. */
export function versionCluster(service: string, version: string): string {
  return `${service}-${version}`;
}

/** Route configuration served over RDS for a service. */
export function routeConfigName(service: string): string {
  return `${service}-routes`;
}

/** Where a reset fault sends a share of a dependency's calls: the listener that resets them (egress.ts). */
export function resetCluster(service: string, dependency: string): string {
  return `umbra-reset-${service}-${dependency}`;
}

/** The egress listener of a service: its versions' calls to their dependencies. */
export function egressListenerName(service: string): string {
  return `${service}-egress`;
}

/** Route configuration of a service's egress listener. */
export function egressRouteConfigName(service: string): string {
  return `${service}-egress-routes`;
}

/** Cluster of one dependency of a service (prefixed like the telemetry cluster, apart from `<service>-<version>`). */
export function dependencyCluster(service: string, dependency: string): string {
  return `umbra-egress-${service}-${dependency}`;
}
