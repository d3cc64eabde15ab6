/** Resource naming conventions shared by the renderer, the bootstrap and the filter. */

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
