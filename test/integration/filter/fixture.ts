/**
 * Shared pieces of the filter's integration tests: the built module, and a
 * bootstrap with one listener (umbra filter → router → stable cluster) plus
 * the candidate, baseline and telemetry clusters a test asks for.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import type { UpstreamTls } from '../../../daemon/xds/resources/tls.js';
import {
  type Behaviour,
  type BehaviourFn,
  type Cleanup,
  drive,
  type EnvoyProcess,
  httpListener,
  simpleRoute,
  startEnvoy,
  startUpstream,
  staticBootstrap,
  staticCluster,
  type Upstream,
  wasmHttpFilter,
} from '../../harness/index.js';
import { startTelemetryServer, type TelemetryServer } from './telemetry-server.js';

/** Path of the release build of the filter; fails clearly when it was not built. */
export function filterWasm(): string {
  const path = join(projectRoot(), 'build', 'filter.wasm');
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build:filter\` first`);
  return path;
}

export interface FilterSetup {
  stablePort: number;
  candidatePort?: number;
  baselinePort?: number;
  /** Port of the telemetry gRPC server (HTTP/2 cluster `umbra_telemetry`). */
  telemetryPort?: number;
  /** Reach the telemetry server over TLS. */
  telemetryTls?: UpstreamTls;
  /** Plugin configuration; `service` and `candidateCluster` are filled in when absent. */
  filterConfig: Record<string, unknown>;
  routeName?: string;
  nodeId?: string;
  /** Leave the filter out (for comparisons). */
  withoutFilter?: boolean;
}

export interface FilterBootstrap {
  /** Listener and admin on port 0: read them back from the started Envoy (`listenerPort`, `adminPort`). */
  config: object;
}

/** Builds the bootstrap; the telemetry cluster is named `umbra_telemetry`. */
export function filterBootstrap(s: FilterSetup): FilterBootstrap {
  const clusters: object[] = [staticCluster({ name: 'stable', port: s.stablePort })];
  if (s.candidatePort !== undefined)
    clusters.push(staticCluster({ name: 'candidate', port: s.candidatePort }));
  if (s.baselinePort !== undefined) clusters.push(staticCluster({ name: 'baseline', port: s.baselinePort }));
  if (s.telemetryPort !== undefined) {
    clusters.push(
      staticCluster({
        name: 'umbra_telemetry',
        port: s.telemetryPort,
        http2: true,
        ...(s.telemetryTls ? { tls: s.telemetryTls } : {}),
      }),
    );
  }
  const configuration = { service: 'shop', candidateCluster: 'candidate', ...s.filterConfig };
  const listener = httpListener({
    routes: [simpleRoute({ cluster: 'stable', ...(s.routeName ? { name: s.routeName } : {}) })],
    httpFilters: s.withoutFilter ? [] : [wasmHttpFilter({ wasmPath: filterWasm(), configuration })],
  });
  const config = staticBootstrap({
    listeners: [listener],
    clusters,
    ...(s.nodeId ? { nodeId: s.nodeId } : {}),
  });
  return { config };
}

/** Envoy arguments that make its log file readable while it runs. */
export const FLUSH_LOG_ARGS = ['--file-flush-interval-msec', '50'];

/**
 * Waits until the filter has sent `copies` mirrored copies and none is in
 * flight any more: every copy it sent has been answered, so the shadow
 * upstream's count is final. Both stats are synced together on the filter's
 * tick (`mirrored` counts a request when its copy is sent).
 */
export async function copiesAnswered(envoy: EnvoyProcess, copies: number): Promise<void> {
  await envoy.waitForStat('wasmcustom.umbra.shop.mirrored', copies);
  await envoy.waitForStat('wasmcustom.umbra.shop.shadow_in_flight', 0);
}

/**
 * Lets the filter's timer run at least `n` more times, each time shown by the
 * `requests` counter (synced on the tick) catching up with one more request:
 * what a tick could have done, it has had `n` chances to do. `served` is the
 * number of requests the filter has handled so far; returns the new total.
 */
export async function ticksPass(
  envoy: EnvoyProcess,
  url: string,
  served: number,
  n: number,
): Promise<number> {
  for (let i = 1; i <= n; i++) {
    await drive({ url, requests: 1 });
    await envoy.waitForStat('wasmcustom.umbra.shop.requests', served + i);
  }
  return served + n;
}

/** What {@link startMirrorRig} starts. */
export interface MirrorRig {
  stable: Upstream;
  candidate: Upstream;
  telemetry: TelemetryServer;
  envoy: EnvoyProcess;
}

/**
 * The filter tests' usual arrangement: stable and candidate upstreams
 * (answering `ok` unless told otherwise), the test telemetry server, and one
 * Envoy (its log readable as it runs) whose filter mirrors to the candidate
 * and streams to that server (`telemetryCluster` filled in).
 */
export async function startMirrorRig(
  t: Cleanup,
  o: Pick<FilterSetup, 'filterConfig' | 'routeName' | 'nodeId'> & {
    name: string;
    stable?: Behaviour | BehaviourFn;
    candidate?: Behaviour | BehaviourFn;
  },
): Promise<MirrorRig> {
  const stable = await startUpstream(t, o.stable ?? { body: 'ok' });
  const candidate = await startUpstream(t, o.candidate ?? { body: 'ok' });
  const telemetry = await startTelemetryServer(t);
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    telemetryPort: telemetry.port,
    filterConfig: { telemetryCluster: 'umbra_telemetry', ...o.filterConfig },
    ...(o.routeName ? { routeName: o.routeName } : {}),
    ...(o.nodeId ? { nodeId: o.nodeId } : {}),
  });
  const envoy = await startEnvoy(t, { config: b.config, name: o.name, args: FLUSH_LOG_ARGS });
  return { stable, candidate, telemetry, envoy };
}
