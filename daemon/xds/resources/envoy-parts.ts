/**
 * Small pieces of Envoy resources shared by the renderers (render.ts,
 * egress.ts): durations, socket addresses, upstream HTTP options, load
 * assignments. Plain objects in proto field names.
 */
import type { DesiredEndpoint } from './desired.js';

const HTTP_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const HTTP_OPTIONS_TYPE = `type.googleapis.com/${HTTP_OPTIONS_KEY}`;

export function duration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

export function socketAddress(e: DesiredEndpoint): object {
  return { socket_address: { address: e.address, port_value: e.port } };
}

export function http2Options(): object {
  return {
    [HTTP_OPTIONS_KEY]: { '@type': HTTP_OPTIONS_TYPE, explicit_http_config: { http2_protocol_options: {} } },
  };
}

/**
 * Idle timeout of Envoy's HTTP/1.1 connections to a version's instances.
 * NOTE: an upstream that closes an idle keep-alive connection while Envoy
 * sends a request on it makes Envoy answer the user 503 (reset before
 * headers). Envoy closing first avoids that race: 4 s is below Node's
 * default keepAliveTimeout (5 s) and most servers' (nginx 75 s).
 */
const UPSTREAM_IDLE_MS = 4000;

export function http1Options(): object {
  return {
    [HTTP_OPTIONS_KEY]: {
      '@type': HTTP_OPTIONS_TYPE,
      common_http_protocol_options: { idle_timeout: duration(UPSTREAM_IDLE_MS) },
      explicit_http_config: { http_protocol_options: {} },
    },
  };
}

/** A load assignment with one locality (gRPC clients ignore localities without a weight). */
export function loadAssignment(clusterName: string, endpoints: DesiredEndpoint[]): object {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        locality: { region: '', zone: '', sub_zone: '' },
        // NOTE: gRFC A27: gRPC drops EDS localities whose load_balancing_weight is unset.
        load_balancing_weight: { value: 1 },
        lb_endpoints: endpoints.map((e) => ({ endpoint: { address: socketAddress(e) } })),
      },
    ],
  };
}
