/**
 * The `exec` provisioner: versions run wherever the user's own tooling puts
 * them (kubectl, helm, nomad, a cloud CLI, a script). Umbra runs the
 * configured command as `COMMAND… ACTION SERVICE VERSION ROLE REPLICAS` with
 * the same in `UMBRA_*` variables, and reads the endpoints it prints
 * (exec-output.ts has the output contract, docs/provisioners.md the whole of
 * it).
 *
 * - `ensure` makes a pool have REPLICAS instances and prints the endpoints
 *   known now; Umbra then runs `status` every `checkInterval` and probes each
 *   reported endpoint until REPLICAS of them answer, or `ensure`'s time is up.
 * - `status` prints a pool's endpoints now; it also runs in the background for
 *   every pool, so that endpoints that move or stop answering are seen, and
 *   routing follows them (`onEndpointsChange`).
 * - `stop` removes a pool.
 *
 * Only endpoints that answer Umbra's probe count as ready, and only ready
 * ones are routed to (a ready one is dropped after two failed probes in a
 * row, not one): a command that reports endpoints that do not answer,
 * or fewer than asked, gets a pool that is not ready, never traffic sent into
 * the void. A failed `status` keeps the endpoints last reported (missing data
 * is not evidence that they went away); their probes still decide.
 *
 * Adoption and release: this provisioner keeps no state that a daemon could
 * lose. After a restart the daemon ensures the pools it needs again (the
 * serving version, and a deployment's pools), and `ensure` is idempotent by
 * contract, so the versions already running are taken over as they are.
 * `release` (a daemon stop) runs no command and leaves everything running;
 * `close` (`umbra daemon --stop-instances`) runs `stop` for every pool it
 * ensured.
 */
import type { ExecProvisioner as ExecConfig } from '../config/schema.js';
import { logger } from '../log.js';
import { type CommandResult, runCommand } from './exec-command.js';
import { type ExecAction, verdictOf } from './exec-output.js';
import { nextHealth, type ProbedHealth, probeHttp, probeTcp } from './probe.js';
import type { Endpoint, PoolRef, PoolStatus, Provisioner } from './provisioner.js';
import { ProvisionError } from './provisioner.js';
import { KeyedSerial } from './serial.js';

const log = logger('provision');

export interface ExecOptions {
  service: string;
  /** Time a reported endpoint has to answer one probe (default 1 s). */
  probeTimeoutMs?: number;
  /** Time `ensure` waits when its caller gives none (default: the ensure command's timeout). */
  readyTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL to a timed-out command's process group (default 2 s). */
  killGraceMs?: number;
}

interface Pool {
  ref: PoolRef;
  desired: number;
  /** The size the last successful `ensure` call made it; undefined until one succeeds. */
  applied: number | undefined;
  /** What the command last reported, and each one's health from its probes (probe.ts nextHealth). */
  reported: ({ endpoint: Endpoint } & ProbedHealth)[];
  /** Why the last `status` failed, until one succeeds. */
  statusError: string | undefined;
}

export class ExecProvisioner implements Provisioner {
  readonly kind = 'exec';
  readonly #config: ExecConfig;
  readonly #o: Required<ExecOptions>;
  readonly #pools = new Map<string, Pool>();
  readonly #serial = new KeyedSerial();
  readonly #listeners = new Set<(ref: PoolRef) => void>();
  #loop: NodeJS.Timeout | undefined;
  /** The background check running now, if any. */
  #checking: Promise<void> | undefined;
  #closed = false;

  constructor(config: ExecConfig, opts: ExecOptions) {
    this.#config = config;
    this.#o = {
      probeTimeoutMs: 1000,
      readyTimeoutMs: config.timeouts.ensure,
      killGraceMs: 2000,
      ...opts,
    };
  }

  versions(): string[] {
    return Object.keys(this.#config.versions);
  }

  async ensure(ref: PoolRef, replicas: number, opts: { timeoutMs?: number } = {}): Promise<PoolStatus> {
    if (this.#closed) throw new ProvisionError('the provisioner is closed');
    this.#checkVersion(ref.version);
    if (!Number.isInteger(replicas) || replicas < 0)
      throw new ProvisionError(`replicas must be a whole number ≥ 0`);
    const timeoutMs = opts.timeoutMs ?? this.#o.readyTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const key = keyOf(ref);
    const pool = await this.#serial.run(key, async () => {
      const pool = this.#pools.get(key) ?? newPool(ref);
      this.#pools.set(key, pool);
      if (pool.applied === replicas && readyOf(pool) >= replicas) return pool;
      pool.desired = replicas;
      pool.applied = undefined;
      const endpoints = await this.#call('ensure', ref, replicas, deadline);
      pool.applied = replicas;
      await this.#observe(pool, endpoints);
      return pool;
    });
    this.#startLoop();
    return this.#waitReady(pool, deadline, timeoutMs);
  }

  async stop(ref: PoolRef): Promise<void> {
    this.#checkVersion(ref.version);
    const key = keyOf(ref);
    await this.#serial.run(key, async () => {
      // Out of routing at once, whatever the command does.
      this.#pools.delete(key);
      await this.#call('stop', ref, 0, undefined);
      log.info('pool stopped', { service: this.#o.service, ...ref });
    });
  }

  endpoints(ref: PoolRef): Endpoint[] {
    const pool = this.#pools.get(keyOf(ref));
    return (pool?.reported ?? []).filter((r) => r.healthy).map((r) => ({ ...r.endpoint }));
  }

  status(): PoolStatus[] {
    return [...this.#pools.values()].map(statusOf);
  }

  /** Called when the background check finds a pool's healthy endpoints changed. */
  onEndpointsChange(listener: (ref: PoolRef) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#loop);
    await this.#checking;
    const refs = [...this.#pools.values()].map((p) => p.ref);
    await Promise.all(
      refs.map((ref) =>
        this.stop(ref).catch((err: Error) =>
          log.error('pool not stopped', { service: this.#o.service, ...ref, error: err.message }),
        ),
      ),
    );
  }

  /** The versions run outside the daemon: nothing to stop, nothing to hand over (see the file's comment). */
  async release(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#loop);
    // No command of ours runs on after a release (bounded by the status timeout).
    await this.#checking;
    for (const p of this.#pools.values())
      log.info('pool left running for the next daemon', {
        service: this.#o.service,
        ...p.ref,
        endpoints: p.reported.map((r) => endpointKey(r.endpoint)),
      });
    this.#pools.clear();
  }

  #checkVersion(version: string): void {
    if (!Object.hasOwn(this.#config.versions, version))
      throw new ProvisionError(`unknown version '${version}' (configured: ${this.versions().join(', ')})`);
  }

  /**
   * Runs `action` until it succeeds, fails for good, or its attempts or the
   * deadline run out; resolves with the endpoints it printed.
   */
  async #call(
    action: ExecAction,
    ref: PoolRef,
    replicas: number,
    deadline: number | undefined,
  ): Promise<Endpoint[]> {
    const attempts = action === 'status' ? 1 : this.#config.retries + 1;
    let delay = this.#config.retryDelay;
    let error = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const left = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - Date.now();
      if (left <= 0) {
        error ||= 'had no time left to run';
        break;
      }
      const timeoutMs = Math.max(1, Math.min(this.#config.timeouts[action], left));
      const result = await runCommand({
        argv: [...this.#config.command, action, this.#o.service, ref.version, ref.pool, String(replicas)],
        env: this.#env(action, ref, replicas, timeoutMs, attempt),
        ...(this.#config.cwd ? { cwd: this.#config.cwd } : {}),
        timeoutMs,
        killGraceMs: this.#o.killGraceMs,
      });
      const v = verdictOf(action, result);
      if (v.ok) return v.endpoints;
      error = v.error;
      // A failing status is logged by #refresh when its reason changes, not on every check.
      if (action !== 'status') logFailure(this.#o.service, action, ref, attempt, v, result);
      if (!v.temporary || attempt === attempts) break;
      if (deadline !== undefined && Date.now() + delay >= deadline) break;
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
    throw new ProvisionError(
      `${this.#o.service} ${ref.version} (${ref.pool}): the ${action} command (${this.#config.command[0]}) ${error}`,
    );
  }

  /**
   * The command's environment: the daemon's without its own `UMBRA_*`
   * variables (the admin token is one), the provisioner's `env`, the
   * version's `env`, then the contract's `UMBRA_*`.
   */
  #env(action: ExecAction, ref: PoolRef, replicas: number, timeoutMs: number, attempt: number) {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith('UMBRA_')) env[k] = v;
    return {
      ...env,
      ...this.#config.env,
      ...this.#config.versions[ref.version]?.env,
      UMBRA_ACTION: action,
      UMBRA_SERVICE: this.#o.service,
      UMBRA_VERSION: ref.version,
      UMBRA_ROLE: ref.pool,
      UMBRA_REPLICAS: String(replicas),
      UMBRA_TIMEOUT_MS: String(Math.round(timeoutMs)),
      UMBRA_ATTEMPT: String(attempt),
    };
  }

  /** Takes the reported endpoints and probes each; true when the healthy ones changed. */
  async #observe(pool: Pool, endpoints: Endpoint[]): Promise<boolean> {
    const before = readyOf(pool);
    const healthyBefore = healthyKeys(pool);
    const answered = await Promise.all(endpoints.map((e) => this.#probe(e)));
    const previous = new Map(pool.reported.map((r) => [endpointKey(r.endpoint), r]));
    pool.reported = endpoints.map((endpoint, i) => ({
      endpoint,
      ...nextHealth(previous.get(endpointKey(endpoint)), answered[i]!),
    }));
    const after = readyOf(pool);
    if (after !== before)
      log.info('pool readiness changed', {
        service: this.#o.service,
        ...pool.ref,
        ready: after,
        desired: pool.desired,
        reported: endpoints.length,
      });
    return healthyKeys(pool) !== healthyBefore;
  }

  #probe(e: Endpoint): Promise<boolean> {
    const timeout = this.#o.probeTimeoutMs;
    switch (this.#config.probe) {
      case 'http':
        return probeHttp(e, this.#config.healthPath, timeout);
      case 'tcp':
        return probeTcp(e, timeout);
      case 'none':
        return Promise.resolve(true);
    }
  }

  /**
   * One `status` run and probe of a pool; a failed `status` keeps the last
   * endpoints and probes them, and so does a check with no time left for a
   * command before `deadline`.
   */
  async #refresh(pool: Pool, deadline?: number): Promise<boolean> {
    if (this.#pools.get(keyOf(pool.ref)) !== pool || this.#closed) return false;
    let endpoints = pool.reported.map((r) => r.endpoint);
    if (deadline !== undefined && deadline <= Date.now()) return this.#observe(pool, endpoints);
    try {
      endpoints = await this.#call('status', pool.ref, pool.desired, deadline);
      pool.statusError = undefined;
    } catch (err) {
      const error = (err as Error).message;
      // Cut short by the caller's deadline, not failed on its own: no news, not a failure.
      if (deadline !== undefined && Date.now() >= deadline) return this.#observe(pool, endpoints);
      if (error !== pool.statusError)
        log.warn('status command failed; keeping the endpoints last reported', {
          service: this.#o.service,
          ...pool.ref,
          error,
        });
      pool.statusError = error;
    }
    // A stop may have come while the command ran.
    return this.#pools.get(keyOf(pool.ref)) === pool && this.#observe(pool, endpoints);
  }

  #startLoop(): void {
    if (this.#loop || this.#closed) return;
    this.#loop = setInterval(() => void this.#checkAll(), this.#config.checkInterval);
    this.#loop.unref();
  }

  #checkAll(): Promise<void> {
    this.#checking ??= this.#checkEach().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #checkEach(): Promise<void> {
    // A pool whose only ensure failed is not watched: its command has reported nothing to check.
    const watched = [...this.#pools.entries()].filter(
      ([, pool]) => pool.applied !== undefined || pool.reported.length > 0,
    );
    await Promise.all(
      watched.map(async ([key, pool]) => {
        if (await this.#serial.run(key, () => this.#refresh(pool))) this.#changed(pool.ref);
      }),
    );
  }

  #changed(ref: PoolRef): void {
    for (const listener of this.#listeners) {
      try {
        listener({ ...ref });
      } catch (err) {
        log.error('endpoint change listener failed', {
          service: this.#o.service,
          error: (err as Error).message,
        });
      }
    }
  }

  async #waitReady(pool: Pool, deadline: number, timeoutMs: number): Promise<PoolStatus> {
    const key = keyOf(pool.ref);
    for (let i = 0; i < 1_000_000; i++) {
      if (readyOf(pool) >= pool.desired) return statusOf(pool);
      const left = deadline - Date.now();
      if (left <= 0 || this.#closed || this.#pools.get(key) !== pool) break;
      await new Promise((r) => setTimeout(r, Math.min(this.#config.checkInterval, left)));
      await this.#serial.run(key, () => this.#refresh(pool, deadline));
    }
    throw new ProvisionError(
      `${this.#o.service} ${pool.ref.version} (${pool.ref.pool}): ${readyOf(pool)}/${pool.desired} ready after ${timeoutMs} ms; ${diagnosis(pool)}`,
    );
  }
}

function newPool(ref: PoolRef): Pool {
  return { ref: { ...ref }, desired: 0, applied: undefined, reported: [], statusError: undefined };
}

function keyOf(ref: PoolRef): string {
  return `${ref.version}/${ref.pool}`;
}

function readyOf(p: Pool): number {
  return p.reported.filter((r) => r.healthy).length;
}

function endpointKey(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}

/** The healthy endpoints of a pool, as one comparable string. */
function healthyKeys(p: Pool): string {
  return p.reported
    .filter((r) => r.healthy)
    .map((r) => endpointKey(r.endpoint))
    .sort()
    .join(',');
}

function statusOf(p: Pool): PoolStatus {
  return {
    ...p.ref,
    desired: p.desired,
    ready: readyOf(p),
    instances: p.reported.map((r, index) => ({ index, endpoint: { ...r.endpoint }, healthy: r.healthy })),
  };
}

/** Why a pool is not ready: fewer endpoints than asked, endpoints that do not answer, a failing status. */
function diagnosis(p: Pool): string {
  const n = p.reported.length;
  const parts = [
    `the command reports ${n} endpoint${n === 1 ? '' : 's'}${n < p.desired ? ` (${p.desired} asked)` : ''}`,
  ];
  const deaf = p.reported.filter((r) => !r.healthy).map((r) => endpointKey(r.endpoint));
  if (deaf.length > 0)
    parts.push(`not answering the probe: ${deaf.slice(0, 5).join(', ')}${deaf.length > 5 ? ', …' : ''}`);
  if (p.statusError) parts.push(`last status: ${p.statusError}`);
  return parts.join('; ');
}

function logFailure(
  service: string,
  action: ExecAction,
  ref: PoolRef,
  attempt: number,
  v: { temporary: boolean; error: string },
  r: CommandResult,
): void {
  log.warn('provisioner command failed', {
    service,
    action,
    ...ref,
    attempt,
    retryable: v.temporary,
    error: v.error,
    ms: r.ms,
    stderr: r.stderrTail.slice(-5),
  });
}
