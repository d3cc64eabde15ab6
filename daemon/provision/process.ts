/**
 * The `process` provisioner: runs each version of a service as N local
 * processes (the version's `command`, with `PORT` set per instance, and
 * `UMBRA_SERVICE`, `UMBRA_VERSION`, `UMBRA_POOL`, `UMBRA_INSTANCE`), on
 * loopback ports it picks. A background loop health-checks every instance
 * over HTTP and samples its CPU; instances that exit are restarted with
 * backoff by the instance itself (process-instance.ts).
 *
 * An instance that turns healthy or unhealthy on its own (it answered for the
 * first time, failed its checks, exited) is reported to the
 * `onEndpointsChange` listeners at once: routing follows it, and Envoy keeps
 * no weight on an instance that is gone until something else publishes.
 *
 * With a log directory, a new provisioner adopts the instances that a daemon
 * which died or was stopped left running (adopt.ts): production keeps being
 * served by the same processes across a daemon crash or restart. Those it
 * cannot adopt are stopped. `release` (a daemon stop) leaves them running;
 * `close` stops them.
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ProcessProvisioner as ProcessConfig, ProcessVersion } from '../config/schema.js';
import { logger } from '../log.js';
import { findLeftovers, planAdoption, specHash, stopProcess } from './adopt.js';
import { type InstanceSpec, type InstanceTiming, ProcessInstance } from './process-instance.js';
import type { Endpoint, PoolRef, PoolStatus, Provisioner } from './provisioner.js';
import { DRAIN_MS, ProvisionError } from './provisioner.js';
import { KeyedSerial } from './serial.js';

const log = logger('provision');

export interface ProcessOptions {
  service: string;
  /** Interface the instances listen on and are checked at. */
  host?: string;
  healthIntervalMs?: number;
  /** Default time `ensure` waits for health. */
  readyTimeoutMs?: number;
  /** Per instance logs go to `<logDir>/<service>-<version>-<pool>-<i>.log` when set. */
  logDir?: string;
  /** Picks a port for a new instance (default: a free loopback port). */
  allocatePort?: () => Promise<number>;
  /** How long a scale-down leaves the instances it removes running once routed away (default {@link DRAIN_MS}). */
  drainMs?: number;
  timing?: Partial<InstanceTiming>;
}

interface Pool {
  ref: PoolRef;
  desired: number;
  /** Sorted by index; indices are unique but need not be contiguous after an adoption. */
  instances: ProcessInstance[];
}

export class ProcessProvisioner implements Provisioner {
  readonly kind = 'process';
  readonly #config: ProcessConfig;
  readonly #opts: Required<Omit<ProcessOptions, 'logDir' | 'timing'>> & Pick<ProcessOptions, 'logDir'>;
  readonly #timing: InstanceTiming;
  readonly #pattern: RegExp;
  readonly #pools = new Map<string, Pool>();
  readonly #serial = new KeyedSerial();
  readonly #listeners = new Set<(ref: PoolRef) => void>();
  /** Stops of leftovers that could not be adopted; `close` waits for them. */
  readonly #leftoverStops: Promise<unknown>[] = [];
  #loop: NodeJS.Timeout | undefined;
  #checking = false;
  #closed = false;

  constructor(config: ProcessConfig, opts: ProcessOptions) {
    this.#config = config;
    this.#opts = {
      host: '127.0.0.1',
      healthIntervalMs: 500,
      readyTimeoutMs: 60_000,
      allocatePort: freeLoopbackPort,
      drainMs: DRAIN_MS,
      ...opts,
    };
    this.#timing = {
      healthTimeoutMs: 1000,
      restartBackoffMs: 250,
      maxBackoffMs: 10_000,
      graceMs: 5000,
      ...opts.timing,
    };
    this.#pattern = new RegExp(config.errorPattern);
    if (opts.logDir) {
      mkdirSync(opts.logDir, { recursive: true });
      this.#adoptLeftovers(opts.logDir);
    }
  }

  /** Takes over the instances a dead predecessor left running; stops those that do not fit the config. */
  #adoptLeftovers(owner: string): void {
    const service = this.#opts.service;
    const { adopt, stop } = planAdoption(findLeftovers(owner, service), this.#config.versions);
    for (const s of stop) {
      log.warn('stopping an instance a previous daemon left running', {
        service,
        version: s.env['UMBRA_VERSION'],
        pool: s.env['UMBRA_POOL'],
        index: s.env['UMBRA_INSTANCE'],
        port: s.env['PORT'],
        pid: s.id.pid,
        reason: s.reason,
      });
      const stopped = stopProcess(s.id, s.group, this.#timing.graceMs).then((gone) => {
        if (!gone) log.warn('leftover instance still running after SIGKILL', { service, pid: s.id.pid });
      });
      this.#leftoverStops.push(stopped);
    }
    for (const a of adopt) {
      const key = keyOf(a.ref);
      const pool = this.#pools.get(key) ?? { ref: a.ref, desired: 0, instances: [] };
      this.#pools.set(key, pool);
      const inst = new ProcessInstance(
        a.index,
        this.#spec(a.ref, this.#config.versions[a.ref.version]!, a.index, a.port),
        this.#timing,
        (healthy) => this.#healthChanged(pool, a.index, healthy),
      );
      inst.adopt(a.id);
      pool.instances.push(inst);
      pool.desired++;
    }
    for (const pool of this.#pools.values()) {
      pool.instances.sort((x, y) => x.index - y.index);
      log.info('adopted the instances a previous daemon left running', {
        service,
        ...pool.ref,
        pids: pool.instances.map((i) => i.pid),
        ports: pool.instances.map((i) => i.spec.port),
      });
    }
    // Their deaths are noticed (and they are replaced) by the health loop, ensured or not.
    if (this.#pools.size > 0) this.#startLoop();
  }

  versions(): string[] {
    return Object.keys(this.#config.versions);
  }

  async ensure(ref: PoolRef, replicas: number, opts: { timeoutMs?: number } = {}): Promise<PoolStatus> {
    if (this.#closed) throw new ProvisionError('the provisioner is closed');
    const version = this.#config.versions[ref.version];
    if (!version)
      throw new ProvisionError(
        `unknown version '${ref.version}' (configured: ${this.versions().join(', ')})`,
      );
    if (!Number.isInteger(replicas) || replicas < 0)
      throw new ProvisionError(`replicas must be a whole number ≥ 0`);
    const key = keyOf(ref);
    // One resize at a time per pool: concurrent ensures must not both start the missing instances.
    const pool = await this.#serial.run(key, () => this.#resize(key, ref, version, replicas));
    this.#startLoop();
    return this.#waitReady(pool, opts.timeoutMs ?? this.#opts.readyTimeoutMs);
  }

  async #resize(
    key: string,
    ref: PoolRef,
    version: ProcessConfig['versions'][string],
    replicas: number,
  ): Promise<Pool> {
    const pool = this.#pools.get(key) ?? { ref: { ...ref }, desired: 0, instances: [] };
    this.#pools.set(key, pool);
    pool.desired = replicas;
    // The highest indices go first; new instances take the lowest free ones.
    const leaving = pool.instances.splice(replicas);
    if (leaving.length > 0) await this.#drainAndStop(pool, leaving);
    while (pool.instances.length < replicas) {
      const index = lowestFreeIndex(pool.instances);
      const port = await this.#opts.allocatePort();
      const inst = new ProcessInstance(
        index,
        this.#spec(ref, version, index, port),
        this.#timing,
        (healthy) => this.#healthChanged(pool, index, healthy),
      );
      inst.start();
      pool.instances.push(inst);
      pool.instances.sort((x, y) => x.index - y.index);
      log.info('instance started', { service: this.#opts.service, ...ref, index, port, pid: inst.pid });
    }
    return pool;
  }

  /** How instance `index` of a pool runs; what `UMBRA_*` it carries is what adopt.ts reads back. */
  #spec(ref: PoolRef, version: ProcessVersion, index: number, port: number): InstanceSpec {
    const logDir = this.#opts.logDir;
    return {
      command: version.command,
      env: {
        ...version.env,
        UMBRA_SERVICE: this.#opts.service,
        ...(logDir ? { UMBRA_OWNER: logDir } : {}),
        UMBRA_VERSION: ref.version,
        UMBRA_POOL: ref.pool,
        UMBRA_INSTANCE: String(index),
        UMBRA_SPEC: specHash(version),
      },
      ...(version.cwd ? { cwd: version.cwd } : {}),
      host: this.#opts.host,
      port,
      healthPath: this.#config.healthPath,
      errorPattern: this.#pattern,
      ...(logDir
        ? { logFile: join(logDir, `${this.#opts.service}-${ref.version}-${ref.pool}-${index}.log`) }
        : {}),
    };
  }

  async stop(ref: PoolRef): Promise<void> {
    const key = keyOf(ref);
    await this.#serial.run(key, async () => {
      const pool = this.#pools.get(key);
      if (!pool) return;
      this.#pools.delete(key);
      await Promise.all(pool.instances.map((i) => i.stop()));
      log.info('pool stopped', { service: this.#opts.service, ...ref, instances: pool.instances.length });
    });
  }

  endpoints(ref: PoolRef): Endpoint[] {
    const pool = this.#pools.get(keyOf(ref));
    return (pool?.instances ?? [])
      .filter((i) => i.healthy)
      .map((i) => ({ host: i.spec.host, port: i.spec.port }));
  }

  /** Called when an instance's health changes on its own (not by `ensure` or `stop`); returns the unsubscribe. */
  onEndpointsChange(listener: (ref: PoolRef) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** An instance of `pool` turned healthy or not: its listeners route to what answers now. */
  #healthChanged(pool: Pool, index: number, healthy: boolean): void {
    // A pool stopped or replaced meanwhile is no longer routed: nothing to follow.
    if (this.#closed || this.#pools.get(keyOf(pool.ref)) !== pool) return;
    log.info('instance health changed', { service: this.#opts.service, ...pool.ref, index, healthy });
    this.#tell(pool.ref);
  }

  #tell(ref: PoolRef): void {
    for (const listener of this.#listeners) listener({ ...ref });
  }

  /**
   * A scale-down, make-before-break: the instances leaving (already out of
   * the pool, so out of its endpoints) are routed away first (the listeners
   * are told), requests in flight get `drainMs`, then they are stopped.
   */
  async #drainAndStop(pool: Pool, leaving: ProcessInstance[]): Promise<void> {
    if (leaving.some((i) => i.healthy)) {
      this.#tell(pool.ref);
      await new Promise((r) => setTimeout(r, this.#opts.drainMs));
    }
    await Promise.all(leaving.map((i) => i.stop()));
  }

  status(): PoolStatus[] {
    const now = Date.now();
    return [...this.#pools.values()].map((p) => statusOf(p, now));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#loop);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all([...pools.flatMap((p) => p.instances.map((i) => i.stop())), ...this.#leftoverStops]);
  }

  async release(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#loop);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    const stops: Promise<void>[] = [];
    for (const p of pools) {
      const kept = p.instances.filter((i) => i.release());
      for (const i of p.instances) if (!kept.includes(i)) stops.push(i.stop());
      log.info('instances left running for the next daemon', {
        service: this.#opts.service,
        ...p.ref,
        pids: kept.map((i) => i.pid),
        ports: kept.map((i) => i.spec.port),
        stopped: p.instances.length - kept.length,
      });
    }
    await Promise.all([...stops, ...this.#leftoverStops]);
  }

  #startLoop(): void {
    if (this.#loop) return;
    this.#loop = setInterval(() => void this.#checkAll(), this.#opts.healthIntervalMs);
    this.#loop.unref();
  }

  async #checkAll(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const now = Date.now();
      await Promise.all([...this.#pools.values()].flatMap((p) => p.instances.map((i) => i.check(now))));
    } finally {
      this.#checking = false;
    }
  }

  async #waitReady(pool: Pool, timeoutMs: number): Promise<PoolStatus> {
    const deadline = Date.now() + timeoutMs;
    await this.#checkAll();
    for (let i = 0; i < 1_000_000 && !this.#closed; i++) {
      const ready = pool.instances.filter((x) => x.healthy).length;
      if (ready >= pool.desired) return statusOf(pool, Date.now());
      if (Date.now() >= deadline || this.#pools.get(keyOf(pool.ref)) !== pool) break;
      await new Promise((r) => setTimeout(r, Math.min(this.#opts.healthIntervalMs, 100)));
      await this.#checkAll();
    }
    const ready = pool.instances.filter((x) => x.healthy).length;
    const sick = pool.instances.find((x) => !x.healthy);
    throw new ProvisionError(
      `${this.#opts.service} ${pool.ref.version} (${pool.ref.pool}): ${ready}/${pool.desired} healthy after ${timeoutMs} ms` +
        (sick ? `; instance ${sick.index} on port ${sick.spec.port}: ${sick.diagnosis()}` : ''),
    );
  }
}

function lowestFreeIndex(instances: readonly ProcessInstance[]): number {
  const used = new Set(instances.map((i) => i.index));
  let i = 0;
  while (used.has(i)) i++;
  return i;
}

function keyOf(ref: PoolRef): string {
  return `${ref.version}/${ref.pool}`;
}

function statusOf(p: Pool, now: number): PoolStatus {
  const instances = p.instances.map((i) => i.status(now));
  return { ...p.ref, desired: p.desired, ready: instances.filter((i) => i.healthy).length, instances };
}

/** A free TCP port on loopback (bound and released: the usual small race applies). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
