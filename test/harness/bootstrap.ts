/**
 * Builders for Envoy v3 bootstrap fragments used by tests and benchmarks.
 * They return plain JSON objects (Envoy accepts a JSON bootstrap file).
 */
import { resolve } from 'node:path';
import { type UpstreamTls, upstreamTlsSocket } from '../../daemon/xds/resources/tls.js';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Envoy's admin on loopback; port 0 (the default) lets Envoy pick one, which startEnvoy reads back. */
export function adminBlock(port = 0): object {
  return { address: { socket_address: { address: '127.0.0.1', port_value: port } } };
}

export function routerFilter(): object {
  return {
    name: 'envoy.filters.http.router',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
  };
}

export interface WasmFilterOptions {
  name?: string;
  /** Path of the .wasm file (relative paths are resolved from the cwd). */
  wasmPath: string;
  /** Plugin configuration, serialised as JSON into a StringValue. */
  configuration: object | string;
  vmId?: string;
  rootId?: string;
  /** Envoy refuses to start / the listener fails when the plugin fails to configure (default true). */
  failOpen?: boolean;
}

export function wasmHttpFilter(o: WasmFilterOptions): object {
  const configuration =
    typeof o.configuration === 'string' ? o.configuration : JSON.stringify(o.configuration);
  return {
    name: o.name ?? 'umbra',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name: o.name ?? 'umbra',
        root_id: o.rootId ?? 'umbra',
        configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: configuration },
        fail_open: o.failOpen ?? false,
        vm_config: {
          vm_id: o.vmId ?? 'umbra',
          runtime: 'envoy.wasm.runtime.v8',
          code: { local: { filename: resolve(o.wasmPath) } },
        },
      },
    },
  };
}

export interface RouteOptions {
  cluster: string;
  prefix?: string;
  /** Route name: the filter reports it as the endpoint. */
  name?: string;
  timeoutMs?: number;
  /** Native request mirroring (used by benchmarks for comparison). */
  mirrorCluster?: string;
}

export function simpleRoute(o: RouteOptions): object {
  const route: Record<string, unknown> = {
    cluster: o.cluster,
    timeout: `${(o.timeoutMs ?? 15_000) / 1000}s`,
  };
  if (o.mirrorCluster) route['request_mirror_policies'] = [{ cluster: o.mirrorCluster }];
  return { ...(o.name ? { name: o.name } : {}), match: { prefix: o.prefix ?? '/' }, route };
}

export interface ListenerOptions {
  name?: string;
  /** Default 0: Envoy binds a free port; read it back with EnvoyProcess.listenerPort. */
  port?: number;
  /** Routes for an inline route configuration. */
  routes?: object[];
  /** Or RDS over ADS with this route configuration name. */
  rds?: string;
  httpFilters?: object[];
  statPrefix?: string;
}

export function httpListener(o: ListenerOptions): object {
  const hcm: Record<string, unknown> = {
    '@type': HCM,
    stat_prefix: o.statPrefix ?? 'ingress',
    codec_type: 'AUTO',
    http_filters: [...(o.httpFilters ?? []), routerFilter()],
  };
  if (o.rds) {
    hcm['rds'] = { route_config_name: o.rds, config_source: { ads: {}, resource_api_version: 'V3' } };
  } else {
    hcm['route_config'] = {
      name: `${o.name ?? 'ingress'}-routes`,
      virtual_hosts: [{ name: 'all', domains: ['*'], routes: o.routes ?? [] }],
    };
  }
  return {
    name: o.name ?? 'ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: o.port ?? 0 } },
    filter_chains: [
      { filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }] },
    ],
  };
}

export interface ClusterOptions {
  name: string;
  port: number;
  host?: string;
  /** Upstream speaks HTTP/2 (gRPC). */
  http2?: boolean;
  connectTimeoutMs?: number;
  /** Reach the upstream over TLS (the socket Umbra renders for its own clusters). */
  tls?: UpstreamTls;
}

export function staticCluster(o: ClusterOptions): object {
  const cluster: Record<string, unknown> = {
    name: o.name,
    type: 'STATIC',
    connect_timeout: `${(o.connectTimeoutMs ?? 1000) / 1000}s`,
    load_assignment: {
      cluster_name: o.name,
      endpoints: [
        {
          lb_endpoints: [
            {
              endpoint: {
                address: { socket_address: { address: o.host ?? '127.0.0.1', port_value: o.port } },
              },
            },
          ],
        },
      ],
    },
  };
  if (o.http2) {
    cluster['typed_extension_protocol_options'] = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  if (o.tls) cluster['transport_socket'] = upstreamTlsSocket(o.tls);
  return cluster;
}

/** A whole static bootstrap: admin, listeners and clusters. */
export function staticBootstrap(o: {
  adminPort?: number;
  listeners: object[];
  clusters: object[];
  nodeId?: string;
}): object {
  return {
    node: { id: o.nodeId ?? 'umbra-test', cluster: 'umbra-test' },
    admin: adminBlock(o.adminPort),
    static_resources: { listeners: o.listeners, clusters: o.clusters },
  };
}
