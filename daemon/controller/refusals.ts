/**
 * Proxy refusals (xDS NACKs) per service: which service a refusal is about
 * (from the resource names it carries), which refusals stand now, and the
 * counts for /metrics. No I/O: the controller feeds it the xDS server's
 * `nack` and `ack` events and turns what it returns into rollout events and
 * alerts.
 *
 * A refusal stands until the proxy that refused ACKs the version of that
 * type it should have now. It belongs to a service when one of its resources is named
 * after that service (`<service>-ingress`, `<service>-routes`,
 * `<service>-<version>`); a refusal that names no service's resource (the
 * shared telemetry cluster) concerns every service.
 */
import type { ServiceConfig } from '../config/schema.js';
import type { MetricFamily } from '../metrics/registry.js';
import type { ConfigRejection } from '../rollout/types.js';
import { type AckEvent, type NackRecord, SHORT_NAME } from '../xds/index.js';

/** A refusal that stands for a service, as status and the machine see it. */
export type Refusal = ConfigRejection;

/** The service a resource name belongs to: the longest service name that prefixes it with `-`. */
function serviceOf(resource: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const n of names) {
    if (resource.startsWith(`${n}-`) && (!best || n.length > best.length)) best = n;
  }
  return best;
}

export class ProxyRefusals {
  readonly #services: string[];
  /** Standing refusals by service, then by `node type`. */
  readonly #standing = new Map<string, Map<string, Refusal>>();
  readonly #counts = new Map<string, number>();

  constructor(services: readonly ServiceConfig[]) {
    this.#services = services.map((s) => s.name);
  }

  /** Records a NACK; returns the refusal per service it concerns (new or not: the machine drops repeats). */
  nack(n: NackRecord, at: number): { service: string; refusal: Refusal }[] {
    const type = SHORT_NAME[n.typeUrl];
    const named = new Set(
      n.resources.map((r) => serviceOf(r, this.#services)).filter((s) => s !== undefined),
    );
    const services = named.size > 0 ? [...named] : this.#services;
    const out: { service: string; refusal: Refusal }[] = [];
    for (const service of services) {
      const resources = n.resources.filter(
        (r) => named.size === 0 || serviceOf(r, this.#services) === service,
      );
      const refusal: Refusal = {
        node: n.nodeId,
        type,
        version: n.version,
        resources,
        message: n.message,
        at,
      };
      let map = this.#standing.get(service);
      if (!map) this.#standing.set(service, (map = new Map()));
      map.set(`${n.nodeId} ${type}`, refusal);
      const key = `${service}\0${type}`;
      this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
      out.push({ service, refusal });
    }
    return out;
  }

  /**
   * Records an ACK of `a.version`, where `current` is the version of that
   * type the node should have now; returns the services whose refusal by
   * that node and type it clears. Only an ACK of the current version clears
   * one: a proxy that (re)connects while a refusal stands may be served the
   * last good configuration instead (xds/nodes.ts), and accepting that
   * accepts nothing new. The refused version itself counts when it is still
   * current: a new stream accepting it means the cause is gone.
   */
  ack(a: AckEvent, current: string | undefined): string[] {
    const type = SHORT_NAME[a.typeUrl];
    const cleared: string[] = [];
    if (a.version !== current) return cleared;
    for (const [service, map] of this.#standing) {
      const r = map.get(`${a.nodeId} ${type}`);
      if (!r) continue;
      map.delete(`${a.nodeId} ${type}`);
      cleared.push(service);
    }
    return cleared;
  }

  /** The refusals that stand for a service now, oldest first. */
  standing(service: string): Refusal[] {
    return [...(this.#standing.get(service)?.values() ?? [])].sort((a, b) => a.at - b.at);
  }

  /** `umbra_xds_nacks_total{service,type}` and `umbra_xds_refusals_standing{service}`. */
  metrics(): MetricFamily[] {
    return [
      {
        name: 'umbra_xds_nacks_total',
        help: 'Configurations proxies refused (xDS NACKs), by the service they concern and xDS type',
        type: 'counter',
        samples: [...this.#counts].map(([key, value]) => {
          const [service, type] = key.split('\0') as [string, string];
          return { labels: { service, type }, value };
        }),
      },
      {
        name: 'umbra_xds_refusals_standing',
        help: 'Proxy refusals that stand now (not yet followed by an accepted later version), by service',
        type: 'gauge',
        samples: this.#services.map((service) => ({
          labels: { service },
          value: this.#standing.get(service)?.size ?? 0,
        })),
      },
    ];
  }
}
