/**
 * The real daemon as `umbra daemon` runs it, in a child process, for the
 * end-to-end tests; and a bounded wait that retries through errors.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { freePorts } from '../../harness/index.js';

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

/** Calls `fn` every 200 ms until it returns a value (errors count as not yet); fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what} ${last}`);
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
  envoyAdmin: number;
}

/**
 * Writes `umbra.yaml` in a fresh directory (removed after the test): the
 * daemon on free loopback ports and one service `shop` with static v1 and v2.
 */
export async function writeShopConfig(t: TestContext, c: ShopConfig): Promise<ShopSetup> {
  const [admin, telemetry, xds, listen, metrics, envoyAdmin] = (await freePorts(6)) as number[] as [
    number,
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
  return { config, admin, telemetry, xds, listen, metrics, envoyAdmin };
}
