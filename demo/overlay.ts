/**
 * `npm run demo -- --overlay`: shop's listener, routes and cluster belong to
 * an independent upstream control plane (the Go go-control-plane server of
 * test/fixtures/xds-upstream), which also sends an unmanaged cluster
 * `inventory`; umbrad is the overlay between it and Envoy. Afterwards the
 * resources Umbra does not manage are compared, byte for byte, as the
 * upstream sends them and as a proxy gets them through Umbra.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../daemon/xds/type-urls.js';
import { buildXdsUpstream } from '../test/fixtures/xds-upstream/build.js';
import { upstreamResources } from '../test/fixtures/xds-upstream/resources.js';
import { fetchResources } from '../test/harness/ads-client.js';

export type Spawn = (
  name: string,
  cmd: string,
  args: string[],
  log: string,
  env?: NodeJS.ProcessEnv,
) => ChildProcess;

export interface OverlayUpstream {
  adsPort: number;
}

/** The resources of shop that Umbra edits (everything else must pass through unchanged). */
const MANAGED = new Set([`${LISTENER_TYPE} shop-ingress`, `${ROUTE_TYPE} shop-routes`]);

/**
 * Starts shop v1 (two sample processes), the upstream control plane, and
 * serves `nodeId` the shop service on `listener` plus the `inventory` cluster.
 */
export async function startOverlayUpstream(o: {
  spawn: Spawn;
  dir: string;
  sample: string;
  listener: number;
  nodeId: string;
  freePort: () => Promise<number>;
  waitFor: <T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>) => Promise<T>;
}): Promise<OverlayUpstream> {
  const bin = buildXdsUpstream();
  const [adsPort, httpPort, a, b] = [
    await o.freePort(),
    await o.freePort(),
    await o.freePort(),
    await o.freePort(),
  ];
  for (const [i, port] of [a, b].entries()) {
    o.spawn(
      `shop v1 #${i + 1} (upstream's)`,
      process.execPath,
      [o.sample],
      join(o.dir, `upstream-v1-${i}.log`),
      {
        PORT: String(port),
        SAMPLE_VERSION: 'v1',
      },
    );
  }
  o.spawn(
    'xds-upstream',
    bin,
    ['-ads-port', String(adsPort), '-http-port', String(httpPort)],
    join(o.dir, 'xds-upstream.log'),
  );
  const shop = upstreamResources([
    { name: 'shop', listenerPort: o.listener, endpointPorts: [a, b], timeout: '15s' },
  ]);
  const inventory = upstreamResources([{ name: 'inventory', listenerPort: 1, endpointPorts: [a] }]);
  const body = JSON.stringify({
    node: o.nodeId,
    version: '1',
    ...shop,
    clusters: [...shop.clusters!, ...inventory.clusters!],
    endpoints: [...shop.endpoints!, ...inventory.endpoints!],
  });
  await o.waitFor('the upstream control plane', 60_000, async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/snapshot`, { method: 'POST', body });
    if (!res.ok) throw new Error(await res.text());
    return true;
  });
  return { adsPort };
}

const TYPES = [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE];
const NAMES = { [ENDPOINT_TYPE]: ['shop', 'inventory'], [ROUTE_TYPE]: ['shop-routes'] };

/** Whether every resource Umbra does not manage reaches a proxy through Umbra exactly as the upstream sends it. */
export async function passthroughExact(
  upstreamPort: number,
  umbraPort: number,
  nodeId: string,
): Promise<boolean> {
  const direct = await fetchResources(upstreamPort, nodeId, TYPES, NAMES);
  const relayed = await fetchResources(umbraPort, nodeId, TYPES, NAMES);
  let unmanaged = 0;
  for (const [key, hex] of direct) {
    if (MANAGED.has(key)) continue;
    unmanaged++;
    if (relayed.get(key) !== hex) return false;
  }
  return unmanaged > 0;
}
