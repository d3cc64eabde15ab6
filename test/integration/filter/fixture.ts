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
  freePort,
  httpListener,
  simpleRoute,
  staticBootstrap,
  staticCluster,
  wasmHttpFilter,
} from '../../harness/index.js';

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
  config: object;
  listenerPort: number;
  adminPort: number;
}

/** Builds the bootstrap; the telemetry cluster is named `umbra_telemetry`. */
export async function filterBootstrap(s: FilterSetup): Promise<FilterBootstrap> {
  const listenerPort = await freePort();
  const adminPort = await freePort();
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
    port: listenerPort,
    routes: [simpleRoute({ cluster: 'stable', ...(s.routeName ? { name: s.routeName } : {}) })],
    httpFilters: s.withoutFilter ? [] : [wasmHttpFilter({ wasmPath: filterWasm(), configuration })],
  });
  const config = staticBootstrap({
    adminPort,
    listeners: [listener],
    clusters,
    ...(s.nodeId ? { nodeId: s.nodeId } : {}),
  });
  return { config, listenerPort, adminPort };
}

/** Envoy arguments that make its log file readable while it runs. */
export const FLUSH_LOG_ARGS = ['--file-flush-interval-msec', '50'];

/** Waits (bounded) until Envoy's log matches `pattern`; answers whether it did. */
export async function waitForLog(log: () => string, pattern: RegExp, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(log())) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pattern.test(log());
}
