/**
 * Provisioners start and stop the versions of one service. One interface
 * (this file), one file per target (`process.ts`, `static.ts`, `exec.ts`), and a
 * factory (`factory.ts`) that refuses unknown kinds.
 *
 * A service's instances are grouped in pools: a version's `main` pool (the
 * candidate, or a version serving production) and the `baseline` pool (a
 * small copy of the previous version, the size of the candidate). Every
 * method is idempotent: `ensure` with the size a pool already has is a
 * no-op that resolves at once.
 */

/** A version's pool; see rollout/types.ts `Pool`. */
export type PoolName = 'main' | 'baseline';

export interface PoolRef {
  version: string;
  pool: PoolName;
}

export interface Endpoint {
  host: string;
  port: number;
}

/** What a provisioner knows about one instance. Resource fields are absent where it cannot measure them. */
export interface InstanceStatus {
  index: number;
  endpoint: Endpoint;
  /** Passed its last health check. */
  healthy: boolean;
  pid?: number;
  /** Times it was restarted after exiting on its own. */
  restarts?: number;
  /** CPU use since the previous sample, in % of one core. */
  cpuPercent?: number;
  /** Resident memory in bytes. */
  rssBytes?: number;
  /** Log lines matching the error pattern, in total and per minute over the last minute. */
  errorLines?: number;
  errorLinesPerMinute?: number;
}

export interface PoolStatus extends PoolRef {
  /** Instances wanted. */
  desired: number;
  /** Instances healthy now. */
  ready: number;
  instances: InstanceStatus[];
}

export interface Provisioner {
  readonly kind: string;
  /** The versions this provisioner can start (from config). */
  versions(): string[];
  /**
   * Makes the pool have `replicas` instances (starting or stopping some) and
   * resolves when that many are healthy. Rejects for an unknown version, or
   * when they are not healthy within `timeoutMs`; the pool keeps trying.
   */
  ensure(ref: PoolRef, replicas: number, opts?: { timeoutMs?: number }): Promise<PoolStatus>;
  /** Stops every instance of the pool (cleanly, then forcibly after a grace period). */
  stop(ref: PoolRef): Promise<void>;
  /** Healthy endpoints of the pool now (empty for a pool never ensured). */
  endpoints(ref: PoolRef): Endpoint[];
  /** Status of every pool (with resource samples where the target has them). */
  status(): PoolStatus[];
  /** Stops everything this provisioner started. */
  close(): Promise<void>;
  /**
   * Optional: calls `listener` when a pool's healthy endpoints change on
   * their own, outside `ensure` and `stop` (an instance moved, went away or
   * started answering), so that routing can follow. Returns a function that
   * unsubscribes. Targets whose endpoints cannot move leave it out.
   */
  onEndpointsChange?(listener: (ref: PoolRef) => void): () => void;
  /**
   * Stops watching and leaves the instances serving: the next provisioner of
   * the same service and owner adopts them (a daemon stop is not an outage).
   * Instances that cannot outlive the daemon are stopped. After it, the
   * provisioner is closed.
   */
  release(): Promise<void>;
}

/**
 * How long instances keep running once routed away before they are stopped:
 * the proxies' workers apply an ACKed route a moment after the ACK, and
 * requests in flight finish.
 */
export const DRAIN_MS = 3000;

/** Refused input (unknown version, …); nothing was started or stopped. */
export class ProvisionError extends Error {}
