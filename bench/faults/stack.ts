/**
 * The processes bench:faults runs: the real daemon (`umbra daemon`, from
 * source through tsx) as a child process that the bench stops and starts, a
 * real Envoy bootstrapped over ADS from it, the daemon's /metrics, and bounded
 * waits. Everything binds loopback on ports the kernel picked.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { AdminClient } from '../../daemon/admin/client.js';
import type { ServiceStatusView } from '../../daemon/admin/port.js';
import { projectRoot } from '../../daemon/platform/envoy-binary.js';
import { TERMINAL_PHASES } from '../../daemon/rollout/phases.js';

export const TOKEN = 'bench-faults-admin-token';
const t0 = Date.now();

/** A progress line on stdout, stamped with seconds since the bench started. */
export function say(msg: string): void {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Calls `fn` every `everyMs` until it returns a value (errors count as not yet); undefined after `timeoutMs`. */
export async function poll<T>(
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 200,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    await sleep(everyMs);
  }
  return undefined;
}

/** Like {@link poll}, but a timeout is an error naming what was awaited. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const v = await poll(fn, timeoutMs);
  if (v === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return v;
}

/** True once something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Ports {
  admin: number;
  telemetry: number;
  xds: number;
  metrics: number;
  envoyAdmin: number;
  listener: number;
}

/** The daemon as a restartable child process on one config and one store. */
export class Daemon {
  #child: ChildProcess | undefined;
  #starts = 0;
  readonly client: AdminClient;

  constructor(
    readonly dir: string,
    readonly ports: Ports,
    public configPath: string,
  ) {
    this.client = new AdminClient({ address: `127.0.0.1:${ports.admin}`, token: TOKEN, timeoutMs: 3000 });
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Spawns `umbra daemon`; its output goes to umbrad-N.log in the bench directory. */
  start(): void {
    if (this.running) throw new Error('the daemon is already running');
    const cli = join(projectRoot(), 'daemon', 'cli', 'dev.ts');
    const log = join(this.dir, `umbrad-${++this.#starts}.log`);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        cli,
        'daemon',
        '--config',
        this.configPath,
        '--metrics',
        `127.0.0.1:${this.ports.metrics}`,
      ],
      {
        cwd: projectRoot(),
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, UMBRA_ADMIN_TOKEN: TOKEN, UMBRA_LOG_LEVEL: 'info' },
      },
    );
    const out = createWriteStream(log);
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    this.#child = child;
  }

  /** Sends `signal` and waits (≤ 30 s, then SIGKILL) until the process has exited. */
  async stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    const late = await Promise.race([exited.then(() => false), sleep(30_000).then(() => true)]);
    if (late) {
      say('umbrad did not exit within 30 s of the signal; SIGKILL');
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Waits until the admin API answers with the configured services. */
  async ready(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      'the daemon admin API',
      async () => ((await this.client.status()).services.length > 0 ? true : undefined),
      timeoutMs,
    );
  }

  async service(name: string): Promise<ServiceStatusView | undefined> {
    return (await this.client.status(name)).services[0];
  }

  /**
   * One value of the daemon's /metrics, summed over the label sets that
   * contain `labels` (e.g. `reason="series_limit"`; all when absent);
   * undefined when it has none.
   */
  async metric(name: string, labels = ''): Promise<number | undefined> {
    const res = await fetch(`http://127.0.0.1:${this.ports.metrics}/metrics`, {
      signal: AbortSignal.timeout(2000),
    });
    const text = await res.text();
    let sum: number | undefined;
    for (const line of text.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      if (m && m[1] === name && (m[2] ?? '').includes(labels)) sum = (sum ?? 0) + Number(m[3]);
    }
    return sum;
  }

  /** Stops the process for good and closes the admin client. */
  async close(): Promise<void> {
    await this.stop('SIGTERM');
    this.client.close();
  }
}

/** Mirrored copies answered by every sample-service instance so far (SAMPLE_SHADOW_COUNT_DIR files). */
export function shadowCopiesSeen(dir: string): number {
  let sum = 0;
  for (const f of readdirSync(dir)) {
    if (!f.startsWith('shadow-') || !f.endsWith('.count')) continue;
    sum += Number(readFileSync(join(dir, f), 'utf8')) || 0;
  }
  return sum;
}

/** Phases after which a deployment does nothing more. */
export const TERMINAL: readonly string[] = TERMINAL_PHASES;

/**
 * Stops the sample-service instances this run's daemons started and left
 * behind (found by the SAMPLE_SHADOW_COUNT_DIR this run gave them only).
 */
export function stopLeftoverInstances(dir: string): void {
  const mark = `SAMPLE_SHADOW_COUNT_DIR=${dir}`;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (env.includes(mark)) process.kill(Number(pid), 'SIGTERM');
    } catch {
      // gone, or not ours to read
    }
  }
}
