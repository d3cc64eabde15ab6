/**
 * How Envoy reaches one of Umbra's gRPC ports (xDS, telemetry) over TLS: an
 * `UpstreamTlsContext` transport socket for the cluster that points at it.
 * The bootstrap's `umbra-xds` cluster and the rendered `umbra-telemetry`
 * cluster both use it, so the two agree on what is checked.
 */

/** TLS towards an Umbra port, as the proxy sees it: every path is on the proxy's machine. */
export interface UpstreamTls {
  /** PEM file of the CA that signed the daemon's certificate. */
  caFile: string;
  /**
   * The DNS name in the daemon's certificate: sent as SNI, and required among
   * its subject alternative names (a CA-signed certificate for another name
   * is refused). Never an IP address (RFC 6066 §3).
   */
  serverName: string;
  /** The proxy's client certificate and key, when the daemon requires one (`clientCaFile`). */
  certFile?: string;
  keyFile?: string;
}

const UPSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

/** Problems with `tls`, each with its path under `at`; empty when valid. */
export function validateUpstreamTls(tls: UpstreamTls, at: string): string[] {
  const errors: string[] = [];
  for (const key of ['caFile', 'serverName'] as const) {
    if (typeof tls[key] !== 'string' || tls[key].length === 0) errors.push(`${at}.${key}: required`);
  }
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    errors.push(
      `${at}.${tls.certFile === undefined ? 'certFile' : 'keyFile'}: certFile and keyFile go together`,
    );
  }
  return errors;
}

/** The cluster's `transport_socket` (proto field names). */
export function upstreamTlsSocket(tls: UpstreamTls): object {
  const common: Record<string, unknown> = {
    validation_context: {
      trusted_ca: { filename: tls.caFile },
      // NOTE: with trusted_ca alone Envoy checks the chain, not the name: any
      // certificate from that CA would pass. Matching the SAN pins the daemon.
      match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: tls.serverName } }],
    },
  };
  if (tls.certFile !== undefined && tls.keyFile !== undefined) {
    common['tls_certificates'] = [
      { certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } },
    ];
  }
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': UPSTREAM_TLS_TYPE, sni: tls.serverName, common_tls_context: common },
  };
}
