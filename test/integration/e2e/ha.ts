/**
 * Several real daemons (`umbra daemon`) on one real PostgreSQL, for the
 * high-availability tests and `bench:failover`: every daemon's ports are
 * named up front (the proxies' bootstrap lists every daemon's xDS port
 * before any of them binds), and all share one directory for what
 * the store's path places (the telemetry token, the instances).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient } from '../../../daemon/admin/client.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { freePort, waitFor } from '../../harness/index.js';
import { TOKEN } from './daemon.js';

export interface HaDaemon {
  name: string;
  child: ChildProcess;
  admin: number;
  xds: number;
  telemetry: number;
  client: AdminClient;
  stderr(): string;
}

export interface HaCluster {
  dir: string;
  daemons: HaDaemon[];
  /** Starts one more daemon (same umbra.yaml but for its ports). */
  add(name: string): Promise<HaDaemon>;
  /** The daemon whose admin API answers as the leader's (not a follower's), or undefined. */
  leader(): Promise<HaDaemon | undefined>;
  /**
   * Waits up to `timeoutMs` for {@link leader}; on a timeout the error says
   * what each daemon was doing (running or exited, the end of its stderr).
   */
  waitForLeader(what: string, timeoutMs: number, intervalMs?: number): Promise<HaDaemon>;
  /** SIGKILLs every daemon still running and removes the directory. */
  close(): Promise<void>;
}

/** One daemon's ports, named before it starts. */
export interface HaPorts {
  admin: number;
  xds: number;
  telemetry: number;
}

export interface HaSetup {
  pgUrl: string;
  node: string;
  /** The `services:` list items (see staticShop in daemon.ts). */
  services: string;
  lease?: string;
}

/** The umbra.yaml of the tests' daemons: `s.services` on a shared store, the given ports. */
export function haConfig(dir: string, s: HaSetup, p: HaPorts): string {
  return `daemon:
  admin: { listen: 127.0.0.1:${p.admin} }
  telemetry: { listen: 127.0.0.1:${p.telemetry} }
  xds: { listen: 127.0.0.1:${p.xds}, nodes: [${s.node}] }
  store: { path: ${dir}/umbra.db, postgres: { url: '${s.pgUrl}', lease: ${s.lease ?? '2s'}, timeout: 1s } }
  filter: { wasmPath: ${join(projectRoot(), 'build', 'filter.wasm')} }
services:
${s.services}`;
}

/** Runs `fn` with a fresh admin client of `d` (see the NOTE in `leader()`), closed afterwards. */
export async function withAdmin<T>(
  d: HaDaemon,
  fn: (c: AdminClient) => Promise<T>,
  timeoutMs = 1000,
): Promise<T> {
  const c = new AdminClient({ address: `127.0.0.1:${d.admin}`, token: TOKEN, timeoutMs });
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Waits until every follower's status names `leader` (each learns it from the lease row on its next poll). */
export async function followersNameLeader(
  leader: HaDaemon,
  followers: HaDaemon[],
  timeoutMs: number,
): Promise<void> {
  for (const f of followers) {
    await waitFor(
      `follower ${f.name} to name the leader`,
      () => withAdmin(f, (c) => c.status()),
      (s) => s.follower && s.leader === `127.0.0.1:${leader.admin}`,
      { timeoutMs, intervalMs: 200 },
    );
  }
}

/** Writes a daemon's umbra.yaml (`configFor` its ports) and starts it. */
async function spawnHaDaemon(
  dir: string,
  configFor: (p: HaPorts) => string,
  name: string,
  env: Record<string, string>,
): Promise<HaDaemon> {
  const [admin, xds, telemetry] = [await freePort(), await freePort(), await freePort()];
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, configFor({ admin, xds, telemetry }));
  const cli = join(projectRoot(), 'daemon', 'cli', 'dev.ts');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', cli, 'daemon', '--config', config, '--metrics', 'off'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, UMBRA_ADMIN_TOKEN: TOKEN, UMBRA_LOG_LEVEL: 'warn', ...env },
    },
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 100_000) err += d.toString();
  });
  const client = new AdminClient({ address: `127.0.0.1:${admin}`, token: TOKEN, timeoutMs: 5000 });
  return { name, child, admin, xds, telemetry, client, stderr: () => err };
}

/**
 * Starts the daemons `names` in a fresh directory; `setup` is the tests'
 * (see {@link haConfig}) or, for the bench, a function from the directory
 * and a daemon's ports to its umbra.yaml.
 */
export async function startHaCluster(
  setup: HaSetup | ((dir: string, p: HaPorts) => string),
  names: string[],
  env: Record<string, string> = {},
): Promise<HaCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-ha-'));
  const configFor = (p: HaPorts) => (typeof setup === 'function' ? setup(dir, p) : haConfig(dir, setup, p));
  const daemons: HaDaemon[] = [];
  const cluster: HaCluster = {
    dir,
    daemons,
    async add(name) {
      const d = await spawnHaDaemon(dir, configFor, name, env);
      daemons.push(d);
      return d;
    },
    async leader() {
      for (const d of daemons) {
        if (d.child.exitCode !== null || d.child.signalCode !== null) continue;
        // NOTE: a fresh channel per probe: a grpc-js channel that found the port closed waits out a
        // reconnect back-off (1 s, growing) before it tries again, which would be counted as failover time.
        try {
          // A follower answers too, saying it follows.
          if (!(await withAdmin(d, (c) => c.status())).follower) return d;
        } catch {
          // not up yet, or between a follower's admin API and the leader's
        }
      }
      return undefined;
    },
    async waitForLeader(what, timeoutMs, intervalMs = 200) {
      try {
        return await waitFor(what, () => cluster.leader(), { timeoutMs, intervalMs });
      } catch (err) {
        const states = daemons.map((d) => {
          const state =
            d.child.exitCode !== null || d.child.signalCode !== null
              ? `exited (${d.child.exitCode ?? d.child.signalCode})`
              : 'running';
          return `--- daemon ${d.name} (admin ${d.admin}): ${state}; stderr ends:\n${d.stderr().slice(-1500)}`;
        });
        throw new Error(`${(err as Error).message}\n${states.join('\n')}`);
      }
    },
    async close() {
      for (const d of daemons) {
        d.client.close();
        if (d.child.exitCode === null && d.child.signalCode === null) {
          const gone = new Promise((r) => d.child.once('exit', r));
          d.child.kill('SIGKILL');
          await gone;
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const n of names) await cluster.add(n);
  return cluster;
}
