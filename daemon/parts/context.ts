/**
 * The contract between the daemon's composition (umbrad.ts) and its parts: the
 * shared context and the part interface. Parts import this file, never
 * umbrad.ts, so the composition sits above everything it composes.
 */
import type { CellStats } from '../aggregate/stats.js';
import type { UmbraConfig } from '../config/schema.js';
import type { ChaosRunner } from '../controller/chaos-runner.js';
import type { ServiceEvidence } from '../controller/evidence.js';
import type { ExperimentDesk } from '../controller/experiments.js';
import type { ProxyRouting } from '../controller/routing.js';
import type { RemoteProxyTracker } from '../ha/remote-proxies.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { PoolStatus } from '../provision/provisioner.js';
import type { DeploymentRepo } from '../rollout/ports.js';
import type { RolloutScheduler } from '../rollout/scheduler.js';
import type { ConfigRejection } from '../rollout/types.js';
import type { Store } from '../store/store.js';
import type { JourneyStatus } from '../synthetic/runner.js';
import type { Pipeline } from '../telemetry/pipeline.js';
import type { TelemetryServer } from '../telemetry/server.js';
import type { XdsServer } from '../xds/index.js';
import type { DesiredEndpoint } from '../xds/resources/desired.js';

/** Everything parts share. Mutable only where documented. */
export interface UmbradContext {
  readonly config: UmbraConfig;
  readonly store: Store;
  readonly pipeline: Pipeline;
  readonly metrics: MetricsRegistry;
  /** µs since the Unix epoch. */
  readonly now: () => number;
  /** Set by the telemetry part once it listens: control messages to the filters. */
  telemetry?: TelemetryServer;
  /**
   * Where each listening part bound, by part (`telemetry`, `metrics`, `xds`,
   * `admin` → `host:port`), set by the part once it listens. With port 0 in
   * the configuration this is the port the kernel picked.
   */
  readonly bound: Record<string, string>;
  /** Set by the controller part once its xDS server listens: what it publishes to the proxies. */
  xds?: XdsServer;
  /** Set by the controller part once started: what the admin API serves. */
  controller?: ControllerHandle;
  /** Subscribes to final per-second cells (all services; shared objects: do not mutate); returns the unsubscribe function. */
  onCells(fn: (cells: CellStats[], second: number, nowUs: number) => void): () => void;
  /**
   * Set on the leader of a shared store (parts/leader.ts): the last second
   * every daemon has closed. The store may hold later seconds only in part;
   * what replays stored seconds reads no further. Absent: the store holds
   * final seconds only.
   */
  finalThrough?: () => number;
  /** Set on the leader of a shared store (parts/leader.ts): what its routing needs of the other daemons. */
  shared?: SharedRouting;
}

/** The other daemons of a shared store, as the leader's routing needs them. */
export interface SharedRouting {
  /** Every live daemon's telemetry address (the proxies' telemetry cluster lists them all). */
  telemetryMembers(): DesiredEndpoint[];
  /** Calls `fn` when the members change; returns the unsubscribe function. */
  onMembersChange(fn: () => void): () => void;
  /** The proxies connected to the other daemons (routing waits for their ACKs too). */
  readonly remoteProxies: RemoteProxyTracker;
  /**
   * Shares what the leader's xDS server publishes with the other daemons, and
   * relays their proxies' answers to it (ha/xds-publish.ts); returns the stop function.
   */
  shareXds(xds: XdsServer): () => void;
}

/** One capability of the daemon. `stop` must be safe to call after a failed or partial `start`. */
export interface DaemonPart {
  readonly name: string;
  start(ctx: UmbradContext): Promise<void>;
  stop(): Promise<void>;
}

/** What the controller offers later parts; each read reflects the state at the time of the call. */
export interface ControllerHandle {
  readonly scheduler: RolloutScheduler;
  readonly repo: DeploymentRepo;
  /** The judge's latest evidence for a service. */
  evidence(service: string): ServiceEvidence | undefined;
  /** The service's pools as its provisioner sees them. */
  pools(service: string): PoolStatus[];
  /** Proxy refusals (xDS NACKs) that stand for the service. */
  refusals(service: string): ConfigRejection[];
  /** Per proxy, what it ACKed for the service against what the daemon wants. */
  proxies(service: string): ProxyRouting[];
  /** The service's journeys with their last results (empty without journeys). */
  journeys(service: string): JourneyStatus[];
  /** The services' A/B experiments. */
  readonly experiments: ExperimentDesk;
  /** Chaos experiments on the services' shadow legs. */
  readonly chaos: ChaosRunner;
}
