/**
 * The overlay on real things: the Go upstream control plane (go-control-plane),
 * Umbra's xDS server relaying to it, and a real Envoy bootstrapped against Umbra.
 */
import * as grpc from '@grpc/grpc-js';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import type { NackRecord } from '../../../daemon/xds/nodes.js';

import type { OverlayService } from '../../../daemon/xds/overlay/edits.js';
import type { OverlayEdits } from '../../../daemon/xds/overlay/merge.js';
import { OverlayRelay } from '../../../daemon/xds/overlay/relay.js';
import type { DesiredRouting } from '../../../daemon/xds/resources/desired.js';
import { XdsServer } from '../../../daemon/xds/server.js';
import { type UpstreamService, upstreamResources } from '../../fixtures/xds-upstream/resources.js';
import {
  type Cleanup,
  type EnvoyProcess,
  freePort,
  startEnvoy,
  startXdsUpstream,
  type UpstreamResources,
  type XdsUpstream,
} from '../../harness/index.js';

export { type UpstreamService, upstreamResources };

export interface OverlayRig {
  /** Refusals of Umbra's edits the relay reported, since it started. */
  umbraNacks: NackRecord[];
  upstream: XdsUpstream;
  relay: OverlayRelay;
  xds: XdsServer;
  envoy: EnvoyProcess;
  nodeId: string;
}

export interface OverlayRigOptions {
  /** What the upstream serves the node before Envoy starts (version "1"). */
  resources: UpstreamResources;
  edits?: OverlayEdits;
  /** A fixed upstream ADS port (to restart the upstream on it). */
  upstreamPort?: number;
}

/** Starts upstream, relay and Envoy; resolves once Envoy is ready (its listeners came through the relay). */
export async function startOverlayRig(t: Cleanup, o: OverlayRigOptions): Promise<OverlayRig> {
  const upstream = await startXdsUpstream(t, o.upstreamPort ? { adsPort: o.upstreamPort } : {});
  const adminPort = await freePort();
  const nodeId = `overlay-${process.pid}-${adminPort}`;
  await upstream.setSnapshot(nodeId, '1', o.resources);
  const { relay, xds } = await startRelay(t, upstream.adsPort, o.edits ?? { services: [] });
  const umbraNacks: NackRecord[] = [];
  relay.on('nack', (n: NackRecord) => umbraNacks.push(n));
  const envoy = await startEnvoy(t, {
    name: 'overlay',
    config: adsBootstrap({ nodeId, xdsHost: '127.0.0.1', xdsPort: xds.port, adminPort }),
    concurrency: 1,
  });
  return { umbraNacks, upstream, relay, xds, envoy, nodeId };
}

/** Umbra's side alone: an xDS server on `port` (0: any) relaying to the upstream. */
export async function startRelay(
  t: Cleanup,
  upstreamPort: number,
  edits: OverlayEdits,
  port = 0,
): Promise<{ relay: OverlayRelay; xds: XdsServer }> {
  const relay = new OverlayRelay({
    address: `127.0.0.1:${upstreamPort}`,
    credentials: grpc.credentials.createInsecure(),
  });
  const xds = await XdsServer.start({ port, observer: relay });
  relay.attach(xds);
  relay.setEdits(edits);
  t.after(async () => {
    relay.close();
    await xds.close();
  });
  return { relay, xds };
}

/** The ports of the `shop` service's versions and Umbra's telemetry. */
export interface ShopPorts {
  v1: number;
  v2: number;
  telemetry: number;
}

/**
 * Umbra's view of `shop` beside an upstream that serves it (listener
 * `shop-ingress`, cluster `shop` with v1): v2 is the candidate, mirrored to
 * through `shop-umbra-mirror`, with `weights` of live traffic.
 */
export function shopService(ports: ShopPorts, weights: Record<string, number>): OverlayService {
  const desired: DesiredRouting = {
    service: 'shop',
    listener: { name: 'shop-ingress', address: '127.0.0.1', port: 1 },
    versions: [
      { name: 'v1', endpoints: [{ address: '127.0.0.1', port: ports.v1 }] },
      { name: 'v2', endpoints: [{ address: '127.0.0.1', port: ports.v2 }] },
      { name: 'umbra-mirror', endpoints: [{ address: '127.0.0.1', port: ports.v2 }] },
    ],
    weights,
    mirror: { candidate: 'umbra-mirror', filterConfig: { shadowPercentage: 100, shadowTimeoutMs: 2000 } },
    // A deployment in progress: the (default-disabled) filter is enabled on the service's whole route.
    filterGate: { share: 100 },
    telemetry: { address: '127.0.0.1', port: ports.telemetry },
    routeTimeoutMs: 5000,
  };
  return { at: 'services[0]', upstreamCluster: 'shop', listener: 'shop-ingress', stable: 'v1', desired };
}
