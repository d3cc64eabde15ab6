/**
 * The xDS resource type URLs Umbra serves, and nothing else.
 *
 * Order matters: {@link PUSH_ORDER} is the order in which a changed snapshot is
 * pushed on one ADS stream, so that a route never names a cluster the proxy
 * has not yet received.
 * NOTE: xDS protocol, "Eventual consistency considerations": CDS, then EDS,
 * then LDS, then RDS (make before break).
 */

export const CLUSTER_TYPE = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ENDPOINT_TYPE = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const LISTENER_TYPE = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE_TYPE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

/** A type URL this server knows. */
export type TypeUrl = typeof CLUSTER_TYPE | typeof ENDPOINT_TYPE | typeof LISTENER_TYPE | typeof ROUTE_TYPE;

/** Push order on one stream (see the module comment). */
export const PUSH_ORDER: readonly TypeUrl[] = [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE];

/**
 * Types whose state-of-the-world response is the full set when the client
 * subscribes with a wildcard (no names, or `*`).
 * NOTE: xDS protocol, "How the client specifies what resources to return":
 * only LDS and CDS may be wildcard subscriptions; RDS and EDS are always by name.
 */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set([LISTENER_TYPE, CLUSTER_TYPE]);

/** Short name for logs and status (`CDS`, `EDS`, `LDS`, `RDS`). */
export const SHORT_NAME: Readonly<Record<TypeUrl, string>> = {
  [CLUSTER_TYPE]: 'CDS',
  [ENDPOINT_TYPE]: 'EDS',
  [LISTENER_TYPE]: 'LDS',
  [ROUTE_TYPE]: 'RDS',
};

/** True when `url` is one of the four types this server serves. */
export function isKnownType(url: string): url is TypeUrl {
  return url === CLUSTER_TYPE || url === ENDPOINT_TYPE || url === LISTENER_TYPE || url === ROUTE_TYPE;
}

/** The fully qualified message name inside a type URL (`envoy.config.cluster.v3.Cluster`). */
export function messageName(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/** Type URLs of the filters inside a listener that the renderer, the overlay and the checks look for. */
export const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
