/**
 * The independent upstream control plane of the overlay tests: the Go
 * go-control-plane server of test/fixtures/xds-upstream, as a real process.
 * Snapshots go in over its loopback HTTP endpoint; what it received (ACKs,
 * NACKs with Envoy's error detail) comes back the same way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { buildXdsUpstream } from '../fixtures/xds-upstream/build.js';
import type { UpstreamResources } from '../fixtures/xds-upstream/resources.js';
import type { Cleanup } from './envoy.js';

export type { UpstreamResources };

/** One DiscoveryRequest as the upstream received it. */
export interface UpstreamSeenRequest {
  stream: number;
  node_id: string;
  type_url: string;
  version_info: string;
  response_nonce: string;
  resource_names: string[] | null;
  error_code?: number;
  error_message?: string;
}

export interface XdsUpstream {
  adsPort: number;
  httpPort: number;
  /** Serves `resources` as `version` to `nodeId` (rejects with the upstream's reason on bad input). */
  setSnapshot(nodeId: string, version: string, resources: UpstreamResources): Promise<void>;
  requests(): Promise<UpstreamSeenRequest[]>;
  streams(): Promise<{ open: number; opened: number }>;
  /** Kills the process (SIGKILL): its streams end without goodbye. */
  kill(): Promise<void>;
}

export interface XdsUpstreamOptions {
  /** Fixed ADS port (to come back on the same address after {@link XdsUpstream.kill}). */
  adsPort?: number;
}

/** Starts the upstream (building it first if its sources changed); stopped by the test's `after`. */
export async function startXdsUpstream(t: Cleanup, o: XdsUpstreamOptions = {}): Promise<XdsUpstream> {
  const bin = buildXdsUpstream();
  const child: ChildProcess = spawn(bin, ['-ads-port', String(o.adsPort ?? 0)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  t.after(kill);
  const ports = await new Promise<{ ads: number; http: number }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () => reject(new Error(`xds-upstream did not start in 20 s: ${stderr}`)),
      20_000,
    );
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as { ads: number; http: number });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`xds-upstream exited (${code}): ${stderr}`));
    });
  });
  const base = `http://127.0.0.1:${ports.http}`;
  return {
    adsPort: ports.ads,
    httpPort: ports.http,
    async setSnapshot(nodeId, version, resources) {
      const res = await fetch(`${base}/snapshot`, {
        method: 'POST',
        body: JSON.stringify({ node: nodeId, version, ...resources }),
      });
      if (!res.ok) throw new Error(`xds-upstream refused the snapshot: ${await res.text()}`);
    },
    async requests() {
      return ((await (await fetch(`${base}/requests`)).json()) as UpstreamSeenRequest[] | null) ?? [];
    },
    async streams() {
      return (await (await fetch(`${base}/streams`)).json()) as { open: number; opened: number };
    },
    kill,
  };
}
