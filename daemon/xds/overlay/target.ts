/** `daemon.xds.upstream` → how the relay reaches the upstream control plane (files read once, at start). */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { UpstreamControlPlane } from '../../config/schema.js';
import type { UpstreamTarget } from './upstream-connection.js';

/** Builds the target; throws an Error naming the path of an unreadable file. */
export function upstreamTarget(up: UpstreamControlPlane, at = 'daemon.xds.upstream'): UpstreamTarget {
  if (!up.tls) return { address: up.address, credentials: grpc.credentials.createInsecure() };
  const read = (file: string, field: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${at}.tls.${field}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const { caFile, certFile, keyFile, serverName } = up.tls;
  const credentials = grpc.credentials.createSsl(
    read(caFile, 'caFile'),
    keyFile ? read(keyFile, 'keyFile') : null,
    certFile ? read(certFile, 'certFile') : null,
  );
  return {
    address: up.address,
    credentials,
    ...(serverName ? { channelOptions: { 'grpc.ssl_target_name_override': serverName } } : {}),
  };
}
