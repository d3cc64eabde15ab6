/**
 * A real Envoy fed by a real XdsServer through envoy/bootstrap.yaml, with
 * two sample upstreams (v1, v2) behind one service; over TLS when asked.
 */
import type { Tls } from '../../../daemon/config/schema.js';
import { serverCredentials } from '../../../daemon/config/tls.js';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import type { DesiredRouting, DesiredTelemetry } from '../../../daemon/xds/resources/desired.js';
import { type RenderOptions, renderService } from '../../../daemon/xds/resources/render.js';
import type { UpstreamTls } from '../../../daemon/xds/resources/tls.js';
import { XdsServer } from '../../../daemon/xds/server.js';
import { createSnapshot, type Snapshot, type SnapshotInput } from '../../../daemon/xds/snapshot.js';
import { PUSH_ORDER } from '../../../daemon/xds/type-urls.js';
import {
  type Cleanup,
  type EnvoyProcess,
  freePort,
  startEnvoy,
  startUpstream,
  type Upstream,
} from '../../harness/index.js';

export interface EnvoyRig {
  xds: XdsServer;
  envoy: EnvoyProcess;
  v1: Upstream;
  v2: Upstream;
  nodeId: string;
  listenerPort: number;
  url: string;
  desired(weights: Record<string, number>): DesiredRouting;
  /** Publishes, then waits until Envoy has ACKed every type of the snapshot. */
  publish(input: SnapshotInput): Promise<Snapshot>;
}

/** Builds a snapshot or fails the test with the errors. */
export function mustSnapshot(input: SnapshotInput): Snapshot {
  const r = createSnapshot(input);
  if (!r.ok) throw new Error(`snapshot refused: ${r.errors.join('; ')}`);
  return r.snapshot;
}

/** Waits for the node to ACK every non-empty type of `snapshot`. */
export async function waitAllAcked(xds: XdsServer, nodeId: string, snapshot: Snapshot, timeoutMs = 10_000) {
  for (const t of PUSH_ORDER) {
    const r = snapshot.types.get(t);
    if (r && r.items.size > 0) await xds.waitForAck(nodeId, t, r.version, timeoutMs);
  }
}

export interface RigOptions {
  render?: RenderOptions;
  mirror?: DesiredRouting['mirror'];
  /** Which requests run the filter (none when absent: the filter stays disabled). */
  filterGate?: DesiredRouting['filterGate'];
  telemetry?: DesiredTelemetry;
  /** The xDS server's TLS (as `daemon.xds.tls`) and how Envoy reaches it. */
  tls?: { server: Tls; envoy: UpstreamTls };
}

export async function startRig(t: Cleanup, opts: RigOptions = {}): Promise<EnvoyRig> {
  const xds = await XdsServer.start({
    port: 0,
    ...(opts.tls ? { credentials: serverCredentials(opts.tls.server, 'daemon.xds.tls') } : {}),
  });
  t.after(() => xds.close());
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listenerPort = await freePort();
  const nodeId = `test-${process.pid}-${listenerPort}`;
  const desired = (weights: Record<string, number>): DesiredRouting => ({
    service: 'shop',
    listener: { name: 'shop', port: listenerPort, address: '127.0.0.1' },
    versions: [
      { name: 'v1', endpoints: [{ address: '127.0.0.1', port: v1.port }] },
      { name: 'v2', endpoints: [{ address: '127.0.0.1', port: v2.port }] },
    ],
    weights,
    ...(opts.mirror ? { mirror: opts.mirror } : {}),
    ...(opts.filterGate ? { filterGate: opts.filterGate } : {}),
    ...(opts.telemetry ? { telemetry: opts.telemetry } : {}),
    routeTimeoutMs: 5000,
  });
  const first = mustSnapshot(renderService(desired({ v1: 100 }), opts.render));
  xds.setSnapshot(nodeId, first);
  const envoy = await startEnvoy(t, {
    name: 'xds',
    config: adsBootstrap({
      nodeId,
      xdsHost: '127.0.0.1',
      xdsPort: xds.port,
      adminPort: 0,
      ...(opts.tls ? { tls: opts.tls.envoy } : {}),
    }),
    concurrency: 1,
  });
  await waitAllAcked(xds, nodeId, first);
  const rig: EnvoyRig = {
    xds,
    envoy,
    v1,
    v2,
    nodeId,
    listenerPort,
    url: `http://127.0.0.1:${listenerPort}/`,
    desired,
    async publish(input) {
      const s = mustSnapshot(input);
      xds.setSnapshot(nodeId, s);
      await waitAllAcked(xds, nodeId, s);
      return s;
    },
  };
  return rig;
}
