/**
 * The Envoy bootstrap for an ADS-only proxy (envoy/bootstrap.yaml), with its
 * placeholders filled in. The YAML file is the single source: this module
 * only substitutes and parses it, and adds TLS towards the daemon when asked
 * (the same transport socket docs/config.md shows for a hand-written bootstrap).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../platform/envoy-binary.js';
import { XDS_CLUSTER } from './resources/names.js';
import { type UpstreamTls, upstreamTlsSocket, validateUpstreamTls } from './resources/tls.js';
import { XDS_TOKEN_METADATA } from './server.js';

/** Values for the template's placeholders. */
export interface BootstrapValues {
  nodeId: string;
  /** Informational service cluster of the proxy (default `umbra`). */
  nodeCluster?: string;
  xdsHost: string;
  xdsPort: number;
  adminPort: number;
  /** Reach the xDS server over TLS (its `daemon.xds.tls`); plaintext when absent. */
  tls?: UpstreamTls;
  /** The daemon's xDS token (`daemon.xds.tokenFile`), sent as initial metadata of the ADS stream. */
  xdsToken?: string;
  /**
   * The other daemons of one shared store (docs/ha.md), listed beside
   * `xdsHost:xdsPort` in the xDS cluster: the ADS stream goes to one of them
   * and, when that one fails, reconnects to another.
   */
  moreXds?: { host: string; port: number }[];
}

/** Path of the template inside the checkout. */
export function bootstrapTemplatePath(): string {
  return join(projectRoot(), 'envoy', 'bootstrap.yaml');
}

/** The template text with every `${NAME}` replaced; throws on an unknown or missing placeholder. */
export function renderBootstrapText(
  v: BootstrapValues,
  template = readFileSync(bootstrapTemplatePath(), 'utf8'),
) {
  const values: Record<string, string> = {
    NODE_ID: JSON.stringify(v.nodeId),
    NODE_CLUSTER: JSON.stringify(v.nodeCluster ?? 'umbra'),
    XDS_HOST: JSON.stringify(v.xdsHost),
    XDS_PORT: String(v.xdsPort),
    ADMIN_PORT: String(v.adminPort),
  };
  return template.replace(/\$\{([A-Z_]+)\}/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`envoy/bootstrap.yaml: unknown placeholder \${${name}}`);
    return value;
  });
}

/** The bootstrap as an object (what Envoy reads from `-c bootstrap.json`). */
export function adsBootstrap(v: BootstrapValues): Record<string, unknown> {
  const bootstrap = parse(renderBootstrapText(v)) as {
    static_resources: { clusters: Record<string, unknown>[] };
  };
  if (v.tls) {
    const errors = validateUpstreamTls(v.tls, 'tls');
    if (errors.length > 0) throw new Error(`adsBootstrap: ${errors.join('; ')}`);
    const xds = bootstrap.static_resources.clusters.find((c) => c['name'] === XDS_CLUSTER);
    if (!xds) throw new Error(`envoy/bootstrap.yaml: no cluster named ${XDS_CLUSTER}`);
    xds['transport_socket'] = upstreamTlsSocket(v.tls);
  }
  if (v.moreXds && v.moreXds.length > 0) {
    const xds = bootstrap.static_resources.clusters.find((c) => c['name'] === XDS_CLUSTER) as
      | { load_assignment?: { endpoints?: { lb_endpoints?: object[] }[] } }
      | undefined;
    const lb = xds?.load_assignment?.endpoints?.[0]?.lb_endpoints;
    if (!lb) throw new Error(`envoy/bootstrap.yaml: no endpoints in cluster ${XDS_CLUSTER}`);
    for (const m of v.moreXds) {
      lb.push({ endpoint: { address: { socket_address: { address: m.host, port_value: m.port } } } });
    }
  }
  if (v.xdsToken !== undefined) {
    const ads = (bootstrap as { dynamic_resources?: { ads_config?: { grpc_services?: object[] } } })
      .dynamic_resources?.ads_config?.grpc_services?.[0];
    if (!ads) throw new Error('envoy/bootstrap.yaml: no ads_config.grpc_services');
    Object.assign(ads, { initial_metadata: [{ key: XDS_TOKEN_METADATA, value: v.xdsToken }] });
  }
  return bootstrap;
}
