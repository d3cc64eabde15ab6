/**
 * The real daemon as `umbra daemon` runs it, in a child process, for the
 * end-to-end tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { AdminClient } from '../../../daemon/admin/client.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { findLeftovers } from '../../../daemon/provision/adopt.js';
import { freePorts, waitFor } from '../../harness/index.js';

/** The admin token the started daemons use (UMBRA_ADMIN_TOKEN). */
export const TOKEN = 'e2e-admin-token';

/** Starts `umbra daemon --config <config> <args>`; killed after the test, its stderr shown when it failed. */
export function startDaemon(t: TestContext, config: string, args = ['--metrics', 'off']): ChildProcess {
  const cli = join(projectRoot(), 'daemon', 'cli', 'dev.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'daemon', '--config', config, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, UMBRA_ADMIN_TOKEN: TOKEN, UMBRA_LOG_LEVEL: 'warn' },
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 100_000) err += d.toString();
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if ((t as { passed?: boolean }).passed === false)
      console.error(`--- umbrad stderr ---\n${err.slice(-4000)}`);
  });
  return child;
}

/** What {@link writeShopConfig} writes beyond its defaults. */
export interface ShopConfig {
  /** The proxy's node id. */
  node: string;
  /** Ports of the static versions v1 and v2. */
  v1: number;
  v2: number;
  /** More `daemon:` lines and `shop` service lines, indented as they are in the file. */
  daemonExtra?: string;
  serviceExtra?: string;
}

/** The written file and the free loopback ports it names (and two more for the test's own use). */
export interface ShopSetup {
  config: string;
  admin: number;
  telemetry: number;
  xds: number;
  /** Where the proxy accepts the service's traffic. */
  listen: number;
  metrics: number;
}

/**
 * Writes `umbra.yaml` in a fresh directory (removed after the test): the
 * daemon on free loopback ports and one service `shop` with static v1 and v2.
 */
export async function writeShopConfig(t: TestContext, c: ShopConfig): Promise<ShopSetup> {
  const [admin, telemetry, xds, listen, metrics] = (await freePorts(5)) as number[] as [
    number,
    number,
    number,
    number,
    number,
  ];
  const dir = mkdtempSync(join(tmpdir(), 'umbra-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'umbra.yaml');
  writeFileSync(
    config,
    `daemon:
  admin: { listen: 127.0.0.1:${admin} }
  telemetry: { listen: 127.0.0.1:${telemetry} }
  xds: { listen: 127.0.0.1:${xds}, nodes: [${c.node}] }
  store: { path: ${dir}/umbra.db }
  filter: { wasmPath: ${join(projectRoot(), 'build', 'filter.wasm')} }
${c.daemonExtra ?? ''}services:
  - name: shop
    stable: v1
    listen: 127.0.0.1:${listen}
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:${c.v1}'] }
        v2: { endpoints: ['127.0.0.1:${c.v2}'] }
${c.serviceExtra ?? ''}`,
  );
  return { config, admin, telemetry, xds, listen, metrics };
}

/** Loopback ports and the proxy node of a test daemon. */
export interface DaemonPorts {
  admin: number;
  telemetry: number;
  xds: number;
  /** The xDS node id the daemon configures. */
  node: string;
}

/**
 * Writes `<dir>/umbra.yaml`: the daemon on `ports` with its store in `dir`
 * and the built filter, then `services` (YAML list items, indented by two).
 * Returns the file's path.
 */
export function writeDaemonConfig(dir: string, ports: DaemonPorts, services: string): string {
  const path = join(dir, 'umbra.yaml');
  writeFileSync(
    path,
    `daemon:
  admin: { listen: 127.0.0.1:${ports.admin} }
  telemetry: { listen: 127.0.0.1:${ports.telemetry} }
  xds: { listen: 127.0.0.1:${ports.xds}, nodes: [${ports.node}] }
  store: { path: ${dir}/umbra.db }
  filter: { wasmPath: ${join(projectRoot(), 'build', 'filter.wasm')} }
services:
${services}`,
  );
  return path;
}

/** The sample service the process provisioner runs in these tests (`GET /` answers `<version> <instance>`). */
export const TINY_SERVER = join(
  projectRoot(),
  'test',
  'integration',
  'provision',
  'fixtures',
  'tiny-server.mjs',
);

/** SIGKILLs every instance of `service` that the daemon with instance directory `owner` runs or left. */
export function killInstances(owner: string, service: string): void {
  for (const p of findLeftovers(owner, service)) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** A `shop` service (stable v1) on `listen`, its versions at fixed loopback ports (YAML list item). */
export function staticShop(listen: number, versions: Record<string, number>): string {
  const lines = Object.entries(versions).map(
    ([v, port]) => `        ${v}: { endpoints: ['127.0.0.1:${port}'] }`,
  );
  return `  - name: shop
    stable: v1
    listen: 127.0.0.1:${listen}
    provisioner:
      kind: static
      versions:
${lines.join('\n')}
`;
}

/** An admin client of the daemon on `port` (closed after the test), once the daemon answers. */
export async function connectAdmin(t: TestContext, port: number): Promise<AdminClient> {
  const client = new AdminClient({ address: `127.0.0.1:${port}`, token: TOKEN, timeoutMs: 3000 });
  t.after(() => client.close());
  await waitFor('the admin API', async () => (await client.status()).services.length > 0);
  return client;
}
