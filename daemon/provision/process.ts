/**
 * The `process` provisioner: runs each version of a service as N local
 * processes (the version's `command`, with `PORT` set per instance, and
 * `UMBRA_SERVICE`, `UMBRA_VERSION`, `UMBRA_POOL`, `UMBRA_INSTANCE`), on
 * loopback ports it picks. A background loop health-checks every instance
 * over HTTP and samples its CPU; instances that exit are restarted with
 * backoff by the instance itself (process-instance.ts).
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ProcessProvisioner as ProcessConfig } from '../config/schema.js';
import { logger } from '../log.js';
import { type InstanceTiming, ProcessInstance } from './process-instance.js';
import type { Endpoint, PoolRef, PoolStatus, Provisioner } from './provisioner.js';
import { ProvisionError } from './provisioner.js';
import { reapOrphans } from './reap.js';

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
  timing?: Partial<InstanceTiming>;
}

interface Pool {
  ref: PoolRef;
  desired: number;
  instances: ProcessInstance[];
}

export class ProcessProvisioner implements Provisioner {
  readonly kind = 'process';
  readonly #config: ProcessConfig;
  readonly #opts: Required<Omit<ProcessOptions, 'logDir' | 'timing'>> & Pick<ProcessOptions, 'logDir'>;
  readonly #timing: InstanceTiming;
  readonly #pattern: RegExp;
  readonly #pools = new Map<string, Pool>();
  readonly #locks = new Map<string, Promise<void>>();
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
      const reaped = reapOrphans(opts.logDir, opts.service);
      if (reaped.length > 0)
        log.warn('stopped instances a previous daemon left running', { service: opts.service, pids: reaped });
    }
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
    const pool = await this.#serial(key, () => this.#resize(key, ref, version, replicas));
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
    while (pool.instances.length > replicas) await pool.instances.pop()!.stop();
    while (pool.instances.length < replicas) {
      const index = pool.instances.length;
      const port = await this.#opts.allocatePort();
      const inst = new ProcessInstance(
        index,
        {
          command: version.command,
          env: {
            ...version.env,
            UMBRA_SERVICE: this.#opts.service,
            ...(this.#opts.logDir ? { UMBRA_OWNER: this.#opts.logDir } : {}),
            UMBRA_VERSION: ref.version,
            UMBRA_POOL: ref.pool,
            UMBRA_INSTANCE: String(index),
          },
          ...(version.cwd ? { cwd: version.cwd } : {}),
          host: this.#opts.host,
          port,
          healthPath: this.#config.healthPath,
          errorPattern: this.#pattern,
          ...(this.#opts.logDir
            ? {
                logFile: join(
                  this.#opts.logDir,
                  `${this.#opts.service}-${ref.version}-${ref.pool}-${index}.log`,
                ),
              }
            : {}),
        },
        this.#timing,
      );
      inst.start();
      pool.instances.push(inst);
      log.info('instance started', { service: this.#opts.service, ...ref, index, port, pid: inst.pid });
    }
    return pool;
  }

  async stop(ref: PoolRef): Promise<void> {
    const key = keyOf(ref);
    await this.#serial(key, async () => {
      const pool = this.#pools.get(key);
      if (!pool) return;
      this.#pools.delete(key);
      await Promise.all(pool.instances.map((i) => i.stop()));
      log.info('pool stopped', { service: this.#opts.service, ...ref, instances: pool.instances.length });
    });
  }

  /** Runs `fn` after every earlier call for the same pool has finished. */
  #serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#locks.set(key, settled);
    void settled.then(() => {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    });
    return run;
  }

  endpoints(ref: PoolRef): Endpoint[] {
    const pool = this.#pools.get(keyOf(ref));
    return (pool?.instances ?? [])
      .filter((i) => i.healthy)
      .map((i) => ({ host: i.spec.host, port: i.spec.port }));
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
    await Promise.all(pools.flatMap((p) => p.instances.map((i) => i.stop())));
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
