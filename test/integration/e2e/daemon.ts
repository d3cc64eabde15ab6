/**
 * The real daemon as `umbra daemon` runs it, in a child process, for the
 * end-to-end tests: one writer of its umbra.yaml, and a start that reads
 * back the ports it bound (`--ports-file`), with every port 0 in the file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { AdminClient } from '../../../daemon/admin/client.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { findLeftovers } from '../../../daemon/provision/adopt.js';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import type { UpstreamTls } from '../../../daemon/xds/resources/tls.js';
import { type EnvoyProcess, retryInUse, startEnvoy, waitFor } from '../../harness/index.js';

/** The admin token the started daemons use (UMBRA_ADMIN_TOKEN). */
export const TOKEN = 'e2e-admin-token';

/** A test daemon's umbra.yaml beyond what every one has (store, filter, ports). */
export interface DaemonSetup {
  /** The proxy's node id (`daemon.xds.nodes`). */
  node: string;
  /** The `services:` list items, indented by two (see {@link staticShop}). */
  services: string;
  /** More keys of `daemon.admin`, `daemon.telemetry`, `daemon.xds` in flow style (`tls: { … }`). */
  admin?: string;
  telemetry?: string;
  xds?: string;
  /** More `daemon:` lines, indented by two. */
  daemonExtra?: string;
}

/** The ports a daemon bound, read from its `--ports-file`. */
export interface DaemonPorts {
  admin: number;
  telemetry: number;
  xds: number;
  /** With `--metrics 127.0.0.1:0` (the default is `--metrics off`). */
  metrics?: number;
}

/** A started daemon: its process, its files, and where it listens. */
export interface TestDaemon {
  child: ChildProcess;
  /** umbra.yaml, in `dir` with the store (`umbra.db`) and the instances (`instances/`). */
  config: string;
  dir: string;
  setup: DaemonSetup;
  args: string[];
  ports: DaemonPorts;
}

function flowKeys(extra: string | undefined): string {
  return extra ? `, ${extra}` : '';
}

/** Writes `<dir>/umbra.yaml`: the daemon's ports 0 (or `pinned`), its store in `dir`, the built filter. */
function writeDaemonConfig(dir: string, s: DaemonSetup, pinned?: DaemonPorts): string {
  const path = join(dir, 'umbra.yaml');
  writeFileSync(
    path,
    `daemon:
  admin: { listen: 127.0.0.1:${pinned?.admin ?? 0}${flowKeys(s.admin)} }
  telemetry: { listen: 127.0.0.1:${pinned?.telemetry ?? 0}${flowKeys(s.telemetry)} }
  xds: { listen: 127.0.0.1:${pinned?.xds ?? 0}, nodes: [${s.node}]${flowKeys(s.xds)} }
  store: { path: ${dir}/umbra.db }
  filter: { wasmPath: ${join(projectRoot(), 'build', 'filter.wasm')} }
${s.daemonExtra ?? ''}services:
${s.services}`,
  );
  return path;
}

/** `--metrics HOST:PORT` among the arguments, pinned to the port bound before (a restart). */
function pinMetrics(args: string[], port: number | undefined): string[] {
  const i = args.indexOf('--metrics');
  if (port === undefined || i < 0 || args[i + 1] === 'off') return args;
  return [...args.slice(0, i + 1), `127.0.0.1:${port}`, ...args.slice(i + 2)];
}

/** Spawns `umbra daemon`; killed after the test, its stderr shown when the test failed. */
function spawnDaemon(
  t: TestContext,
  config: string,
  args: string[],
): { child: ChildProcess; stderr: () => string } {
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
  return { child, stderr: () => err };
}

/** Waits for the ports file, or fails with the daemon's own words when it exits first. */
async function boundPorts(child: ChildProcess, file: string, stderr: () => string): Promise<DaemonPorts> {
  const seen = await waitFor(
    'the daemon to write its ports file',
    () =>
      child.exitCode !== null
        ? ('exited' as const)
        : (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>),
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  if (seen === 'exited')
    throw new Error(`umbra daemon exited with ${child.exitCode}: ${stderr().trim().slice(-2000)}`);
  const port = (key: string) => Number(seen[key]!.slice(seen[key]!.lastIndexOf(':') + 1));
  return {
    admin: port('admin'),
    telemetry: port('telemetry'),
    xds: port('xds'),
    ...(seen['metrics'] ? { metrics: port('metrics') } : {}),
  };
}

/**
 * Writes umbra.yaml in a fresh directory (removed after the test) with every
 * daemon port 0, starts `umbra daemon --config … <args>`, and resolves with
 * the ports it bound once it listens on all of them.
 */
export async function startDaemon(
  t: TestContext,
  setup: DaemonSetup,
  args = ['--metrics', 'off'],
): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = writeDaemonConfig(dir, setup);
  const portsFile = join(dir, 'ports.json');
  const { child, stderr } = spawnDaemon(t, config, [...args, '--ports-file', portsFile]);
  const ports = await boundPorts(child, portsFile, stderr);
  return { child, config, dir, setup, args, ports };
}

/**
 * Starts the daemon again on the same store and the same ports (the proxies'
 * bootstrap names the xDS port; clients know the admin port). `before` must
 * have exited. NOTE: rebinding ports a moment after their owner died can
 * meet EADDRINUSE (a connection still closing); the start is retried then.
 * With `awaitListening: false` it resolves as soon as the process runs (to
 * reach the daemon while it warms up; no retry then). `args` replace the
 * first start's.
 */
export async function restartDaemon(
  t: TestContext,
  before: TestDaemon,
  o: { awaitListening?: boolean; args?: string[] } = {},
): Promise<TestDaemon> {
  const config = writeDaemonConfig(before.dir, before.setup, before.ports);
  const args = pinMetrics(o.args ?? before.args, before.ports.metrics);
  const portsFile = join(before.dir, `ports-${Date.now()}.json`);
  if (o.awaitListening === false) {
    const { child } = spawnDaemon(t, config, [...args, '--ports-file', portsFile]);
    return { ...before, child, args };
  }
  return retryInUse('restarting umbra daemon', async () => {
    const { child, stderr } = spawnDaemon(t, config, [...args, '--ports-file', portsFile]);
    const ports = await boundPorts(child, portsFile, stderr);
    return { ...before, child, args, ports };
  });
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

/** The tiny server's argv in YAML flow style (a version's `command`). */
export const TINY_COMMAND = `'${process.execPath}', '${TINY_SERVER}'`;

/** A rollout that moves only by command: a long shadow, then 50 % and 100 % held long. */
export const COMMAND_DRIVEN_ROLLOUT = `    rollout:
      shadowDuration: 10m
      steps: [{ weight: 50, hold: 10m }, { weight: 100, hold: 10m }]
`;

/**
 * A `shop` service (stable v1) on `listen` run by the process provisioner
 * with `replicas` per version; `versions` maps each version to its argv in
 * YAML flow style (e.g. {@link TINY_COMMAND}); `rollout` adds that block
 * (e.g. {@link COMMAND_DRIVEN_ROLLOUT}). A YAML list item.
 */
export function processShop(
  listen: number,
  o: { replicas: number; versions: Record<string, string>; rollout?: string },
): string {
  const lines = Object.entries(o.versions).map(([v, argv]) => `        ${v}: { command: [${argv}] }`);
  return `  - name: shop
    stable: v1
    listen: 127.0.0.1:${listen}
    provisioner:
      kind: process
      replicas: ${o.replicas}
      versions:
${lines.join('\n')}
${o.rollout ?? ''}`;
}

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

/** A real Envoy that takes its whole configuration from `daemon` over ADS (the shipped bootstrap), as the daemon's node. */
export function startProxy(
  t: TestContext,
  daemon: TestDaemon,
  o: { name: string; concurrency?: number; tls?: UpstreamTls },
): Promise<EnvoyProcess> {
  return startEnvoy(t, {
    name: o.name,
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    config: adsBootstrap({
      nodeId: daemon.setup.node,
      xdsHost: '127.0.0.1',
      xdsPort: daemon.ports.xds,
      adminPort: 0,
      ...(o.tls ? { tls: o.tls } : {}),
    }),
  });
}

/** An admin client of `daemon` (closed after the test), once the daemon answers. */
export async function connectAdmin(t: TestContext, daemon: TestDaemon): Promise<AdminClient> {
  const client = new AdminClient({
    address: `127.0.0.1:${daemon.ports.admin}`,
    token: TOKEN,
    timeoutMs: 3000,
  });
  t.after(() => client.close());
  await waitFor('the admin API', async () => (await client.status()).services.length > 0);
  return client;
}

/** Resolves with the exit code once the child has exited; fails after `timeoutMs`. */
export function exited(child: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the daemon did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}
