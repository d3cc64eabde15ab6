/**
 * Orphaned pools: instances a previous daemon left running that nothing
 * names any more. A daemon killed in the middle of a teardown (routed away,
 * draining, stopping), or while an experiment ran (experiments live in
 * memory), leaves such a pool; the next daemon adopts its instances
 * (provision/adopt.ts) but would never stop them. Once the start has set
 * every service's routing, the sweep stops the pools that neither the
 * serving version, a deployment in progress, an experiment, nor a route
 * names, make-before-break as a teardown does (effects.ts): the proxies have
 * ACKed routes without them, requests in flight drain, then they stop.
 */
import type { ServiceConfig } from '../config/schema.js';
import { logger } from '../log.js';
import type { Collector, MetricFamily } from '../metrics/registry.js';
import { DRAIN_MS, type PoolRef, type Provisioner } from '../provision/provisioner.js';
import { desiredEffects } from '../rollout/desired.js';
import { isTerminal } from '../rollout/phases.js';
import type { DeploymentState } from '../rollout/types.js';
import { routesTo } from './effects.js';
import type { RoutingTable } from './routing.js';
import { servingVersion } from './serving.js';

const log = logger('controller');

/** How long the sweep waits for every configured proxy to connect and ACK the routes before going on. */
const SYNC_WAIT_MS = 30_000;
const POLL_MS = 200;

/** The pools a service needs with no regard to its route: its serving version's, and a deployment in progress's. */
export function namedPools(cfg: ServiceConfig, latest: DeploymentState | undefined): PoolRef[] {
  const named: PoolRef[] = [{ version: servingVersion(cfg, latest), pool: 'main' }];
  if (latest && !isTerminal(latest.phase))
    for (const e of desiredEffects(latest))
      if (e.kind === 'provision') named.push({ version: e.version, pool: e.pool });
  return named;
}

export interface OrphanSweepOptions {
  services: readonly ServiceConfig[];
  provisioners: ReadonlyMap<string, Provisioner>;
  routing: Pick<RoutingTable, 'route' | 'proxies' | 'publish'>;
  /** A service's latest deployment, read at each decision. */
  latest: (service: string) => DeploymentState | undefined;
  /** An experiment runs on the service (its pools are the experiment's business). */
  busy: (service: string) => boolean;
  /** Resolves once the resumed deployments' effects have run (their own teardowns come first). */
  settled: () => Promise<void>;
  drainMs?: number;
  syncWaitMs?: number;
}

export class OrphanSweep {
  readonly #o: OrphanSweepOptions;
  readonly #stopped = new Map<string, number>();
  #closed = false;

  constructor(o: OrphanSweepOptions) {
    this.#o = o;
  }

  /** Whether a pool of `service` is named now by what serves, deploys, experiments or is routed. */
  named(service: string, ref: PoolRef): boolean {
    const cfg = this.#o.services.find((s) => s.name === service);
    if (!cfg || this.#o.busy(service)) return true;
    const same = (p: PoolRef) => p.version === ref.version && p.pool === ref.pool;
    if (namedPools(cfg, this.#o.latest(service)).some(same)) return true;
    const route = this.#o.routing.route(service);
    return (
      route !== undefined && (routesTo(route, ref) || (ref.pool === 'main' && route.split === ref.version))
    );
  }

  /** Stops the orphaned pools of every service; never throws (logged). */
  async run(): Promise<void> {
    await this.#o.settled();
    const orphans = this.#orphans();
    if (orphans.length === 0 || this.#closed) return;
    await this.#proxiesInSync();
    try {
      // Routes without the orphans, ACKed by the proxies connected now.
      await this.#o.routing.publish();
    } catch (err) {
      log.warn('orphaned pools left running: the proxies did not take the routes without them', {
        pools: orphans.map((o) => `${o.service} ${o.ref.version} (${o.ref.pool})`),
        error: (err as Error).message,
      });
      return;
    }
    await new Promise((r) => setTimeout(r, this.#o.drainMs ?? DRAIN_MS));
    for (const { service, ref } of orphans) {
      // Named meanwhile (a deployment of that version began): it is no orphan any more.
      if (this.#closed || this.named(service, ref)) continue;
      log.warn('stopping an orphaned pool: nothing names it', { service, ...ref });
      try {
        await this.#o.provisioners.get(service)!.stop(ref);
        this.#stopped.set(service, (this.#stopped.get(service) ?? 0) + 1);
      } catch (err) {
        log.error('orphaned pool not stopped', { service, ...ref, error: (err as Error).message });
      }
    }
  }

  /** Ends a sweep in progress: nothing more is stopped. */
  close(): void {
    this.#closed = true;
  }

  /** `umbra_orphan_pools_stopped_total` per service. */
  metrics(): MetricFamily[] {
    return [
      {
        name: 'umbra_orphan_pools_stopped_total',
        help: 'Pools a previous daemon left running that nothing named, stopped at start',
        type: 'counter',
        samples: this.#o.services.map((s) => ({
          labels: { service: s.name },
          value: this.#stopped.get(s.name) ?? 0,
        })),
      },
    ];
  }

  #orphans(): { service: string; ref: PoolRef }[] {
    const out: { service: string; ref: PoolRef }[] = [];
    for (const [service, prov] of this.#o.provisioners)
      for (const p of prov.status()) {
        const ref: PoolRef = { version: p.version, pool: p.pool };
        if (!this.named(service, ref)) out.push({ service, ref });
      }
    return out;
  }

  /**
   * Waits (bounded) until every configured proxy is connected and has ACKed
   * the current routes: one that reconnects late may still hold a route to
   * an orphan from before the crash. A proxy that does not come back in
   * time is taken as gone; it gets the routes without them when it does.
   */
  async #proxiesInSync(): Promise<void> {
    const until = Date.now() + (this.#o.syncWaitMs ?? SYNC_WAIT_MS);
    const services = this.#o.services.map((s) => s.name);
    for (let i = 0; i < 10_000 && !this.#closed && Date.now() < until; i++) {
      if (services.every((s) => this.#o.routing.proxies(s).every((p) => p.connected && p.inSync))) return;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}

/**
 * Starts the sweep in the background (call once the start has set every
 * service's routing) and registers its counter; returns what ends both.
 */
export function sweepOrphans(o: OrphanSweepOptions & { register: (c: Collector) => () => void }): () => void {
  const sweep = new OrphanSweep(o);
  const off = o.register(() => sweep.metrics());
  void sweep.run().catch((err: Error) => log.error('orphaned pools not swept', { error: err.message }));
  return () => {
    sweep.close();
    off();
  };
}
