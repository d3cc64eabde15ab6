/**
 * Starting and observing real Envoy processes in tests.
 *
 * Each Envoy gets its own temp dir (bootstrap, log), `--disable-hot-restart`
 * (so many can run at once), and is stopped by the test's `after` hook. When
 * the test failed, the tail of Envoy's log is printed.
 *
 * Ports are Envoy's to pick: give the admin and static listeners port 0, and
 * read back what Envoy bound (`adminPort` from `--admin-address-path`,
 * `listenerPort` from the admin's `/listeners?format=json`). No port is
 * chosen for Envoy and released first, so none can be taken meanwhile.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireEnvoy } from '../../daemon/platform/envoy-binary.js';
import { type WaitOptions, waitFor } from './wait.js';

/** The part of a test context the harness uses (TestContext or a hand-made one). */
export interface Cleanup {
  after(fn: () => unknown): void;
  passed?: boolean;
  name?: string;
}

export interface EnvoyOptions {
  /** The bootstrap object; must contain `admin` (see adminBlock). */
  config: object;
  name?: string;
  concurrency?: number;
  logLevel?: string;
  /** e.g. `wasm:debug,ext_proc:info` */
  componentLogLevel?: string;
  readyTimeoutMs?: number;
  /**
   * Wait until Envoy is ready (default). False: return once its admin port
   * answers, for an Envoy that is meant to stay initialising (e.g. it can
   * never reach its xDS server).
   */
  waitForReady?: boolean;
  /** Extra command-line arguments. */
  args?: string[];
}

export interface EnvoyProcess {
  /** The admin port Envoy bound (it wrote it to `--admin-address-path`). */
  adminPort: number;
  /** Ports of the listeners bound when Envoy became ready, by listener name (empty with `waitForReady: false`). */
  listenerPorts: Record<string, number>;
  /** The port of the one listener in {@link listenerPorts}; throws unless there is exactly one. */
  readonly listenerPort: number;
  pid: number;
  dir: string;
  /** All counters and gauges from /stats (histograms left out). */
  stats(): Promise<Record<string, number>>;
  stat(name: string): Promise<number | undefined>;
  /**
   * Waits until the counter or gauge `name` equals `expected` (a number) or
   * satisfies it (a predicate), and returns its value; the timeout message
   * names the stat, the condition and the last value read. Waiting is the
   * assertion: no `assert.equal` on the result is needed.
   */
  waitForStat(name: string, expected: number | ((v: number) => boolean), o?: WaitOptions): Promise<number>;
  // biome-ignore lint/suspicious/noExplicitAny: Envoy's config dump is free-form JSON that tests walk.
  configDump(query?: string): Promise<any>;
  admin(path: string, method?: 'GET' | 'POST'): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

/** `127.0.0.1:40123` as Envoy writes it to `--admin-address-path`; undefined until written. */
function adminPortIn(path: string): number | undefined {
  try {
    const m = /:(\d+)\s*$/.exec(readFileSync(path, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // not written yet
  }
}

/** Listener name → bound port, from the admin's `/listeners?format=json`. */
function boundListeners(json: string): Record<string, number> {
  const out: Record<string, number> = {};
  const parsed = JSON.parse(json) as {
    listener_statuses?: { name: string; local_address?: { socket_address?: { port_value?: number } } }[];
  };
  for (const l of parsed.listener_statuses ?? []) {
    const port = l.local_address?.socket_address?.port_value;
    if (port) out[l.name] = port;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Explains a failed start in one line, naming the cause and the fix. */
export function explainEnvoyFailure(log: string): string {
  const inUse =
    /cannot bind '?([\d.:[\]]+)'?: Address already in use/i.exec(log) ??
    /(\d+\.\d+\.\d+\.\d+:\d+).*Address already in use/i.exec(log);
  if (inUse) return `port ${inUse[1]} is already in use; stop whatever holds it or pick another port`;
  const wasm = /(Wasm VM failed|Unable to create Wasm|failed to initialize|wasm log[^\n]*)/i.exec(log);
  const critical = log.split('\n').filter((l) => /\[critical\]|\[error\]/.test(l));
  if (critical.length > 0) return critical[critical.length - 1]!.replace(/^.*?\] /, '').slice(0, 400);
  if (wasm) return wasm[0];
  return 'envoy exited; see its log';
}

export async function startEnvoy(t: Cleanup | undefined, o: EnvoyOptions): Promise<EnvoyProcess> {
  const bin = requireEnvoy().path;
  const dir = mkdtempSync(join(tmpdir(), `umbra-envoy-${o.name ?? 'test'}-`));
  const configPath = join(dir, 'bootstrap.json');
  const logPath = join(dir, 'envoy.log');
  const adminAddressPath = join(dir, 'admin.address');
  writeFileSync(configPath, JSON.stringify(o.config, null, 2));
  const args = [
    '-c',
    configPath,
    '--concurrency',
    String(o.concurrency ?? 1),
    '--disable-hot-restart',
    '--log-level',
    o.logLevel ?? 'info',
    '--log-path',
    logPath,
    '--admin-address-path',
    adminAddressPath,
    ...(o.componentLogLevel ? ['--component-log-level', o.componentLogLevel] : []),
    ...(o.args ?? []),
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 1_000_000) stderr += d.toString();
  });
  let exited: number | null | undefined;
  child.on('exit', (code, signal) => {
    exited = code ?? (signal ? -1 : 0);
  });
  const readLog = (): string => {
    let file = '';
    try {
      file = readFileSync(logPath, 'utf8');
    } catch {
      // not written yet
    }
    return file + stderr;
  };
  let adminPort = 0;
  const admin = async (path: string, method: 'GET' | 'POST' = 'GET'): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, {
      method,
      signal: AbortSignal.timeout(5000),
    });
    return res.text();
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (exited === undefined) {
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && exited === undefined; i++) await sleep(100);
      if (exited === undefined) child.kill('SIGKILL');
      for (let i = 0; i < 20 && exited === undefined; i++) await sleep(50);
    }
  };
  const proc: EnvoyProcess = {
    get adminPort() {
      return adminPort;
    },
    listenerPorts: {},
    get listenerPort() {
      const ports = Object.values(proc.listenerPorts);
      if (ports.length !== 1)
        throw new Error(
          `listenerPort: Envoy ${o.name ?? ''} has ${ports.length} bound listeners; pick one from listenerPorts`,
        );
      return ports[0]!;
    },
    pid: child.pid ?? -1,
    dir,
    admin,
    log: readLog,
    stop,
    async stats() {
      const text = await admin('/stats?usedonly');
      const out: Record<string, number> = {};
      for (const line of text.split('\n')) {
        const m = /^([^:]+): (-?\d+)$/.exec(line);
        if (m) out[m[1]!] = Number(m[2]);
      }
      return out;
    },
    async stat(name) {
      const text = await admin(
        `/stats?filter=${encodeURIComponent(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)}`,
      );
      const m = /: (-?\d+)/.exec(text);
      return m ? Number(m[1]) : undefined;
    },
    async waitForStat(name, expected, o) {
      const ok = typeof expected === 'number' ? (v: number) => v === expected : expected;
      const wanted = typeof expected === 'number' ? `= ${expected}` : `to satisfy ${expected.toString()}`;
      const v = await waitFor(
        `stat ${name} ${wanted}`,
        () => proc.stat(name),
        (v) => v !== undefined && ok(v),
        o,
      );
      return v!;
    },
    async configDump(query = '') {
      return JSON.parse(await admin(`/config_dump${query}`));
    },
  };
  t?.after(async () => {
    await stop();
    if (t.passed === false) {
      const log = readLog().split('\n');
      console.error(
        `--- envoy ${o.name ?? ''} log (last 80 lines of ${log.length}) ---\n${log.slice(-80).join('\n')}`,
      );
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  const deadline = Date.now() + (o.readyTimeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new Error(
        `envoy ${o.name ?? ''} exited with code ${exited} before it was ready: ${explainEnvoyFailure(readLog())}`,
      );
    }
    adminPort ||= adminPortIn(adminAddressPath) ?? 0;
    try {
      if (adminPort === 0) throw new Error('admin address not written yet');
      const res = await fetch(`http://127.0.0.1:${adminPort}/ready`, { signal: AbortSignal.timeout(1000) });
      if (o.waitForReady === false) return proc;
      if (res.status === 200) {
        proc.listenerPorts = boundListeners(await admin('/listeners?format=json'));
        return proc;
      }
    } catch {
      // admin not listening yet
    }
    await sleep(50);
  }
  const log = readLog();
  await stop();
  throw new Error(
    `envoy ${o.name ?? ''} not ready within ${o.readyTimeoutMs ?? 20_000} ms: ${explainEnvoyFailure(log)}`,
  );
}

/** Runs Envoy on a configuration it should refuse; returns its exit code and log. */
export async function runEnvoyToExit(
  o: EnvoyOptions & { timeoutMs?: number },
): Promise<{ code: number | null; log: string }> {
  const bin = requireEnvoy().path;
  const dir = mkdtempSync(join(tmpdir(), 'umbra-envoy-exit-'));
  const configPath = join(dir, 'bootstrap.json');
  writeFileSync(configPath, JSON.stringify(o.config, null, 2));
  const child = spawn(
    bin,
    [
      '-c',
      configPath,
      '--concurrency',
      String(o.concurrency ?? 1),
      '--disable-hot-restart',
      '--log-level',
      o.logLevel ?? 'info',
      ...(o.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, o.timeoutMs ?? 20_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  rmSync(dir, { recursive: true, force: true });
  return { code, log };
}
