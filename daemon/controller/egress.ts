/**
 * The egress part of a service's desired routing: who calls its
 * dependencies, in which role now, and the faults an experiment asks for.
 *
 * A caller is an instance pool of a configured version. Its role follows the
 * service's route, never the caller's history: a `baseline` pool only ever
 * receives copies; a version's `main` pool is the `candidate` while it is the
 * mirror target and serves no user; every other pool is `production`. So a
 * version promoted after an experiment is production at once, and a fault
 * can never reach a pool that answers users (egress.ts in xds/resources adds
 * faults to candidate and baseline callers alone).
 */

import { splitHostPort } from '../config/addresses.js';
import type { ServiceConfig } from '../config/schema.js';
import type { DesiredEgress, DesiredEgressCaller, DesiredFault } from '../xds/resources/desired.js';

/** What decides the callers' roles: the service's live weights and mirror target. */
export interface EgressRoute {
  weights: Record<string, number>;
  mirror: { target: string } | null;
}

/** The role of one instance pool of a version under `route`. */
export function callerRole(route: EgressRoute, version: string, pool: string): DesiredEgressCaller['role'] {
  if (pool === 'baseline') return 'baseline';
  const serves = (route.weights[version] ?? 0) > 0;
  return route.mirror?.target === version && !serves ? 'candidate' : 'production';
}

/**
 * The service's egress (absent when it declares no dependencies): one caller
 * per configured version's `main` pool, and `baseline` pool with a baseline arm.
 */
export function desiredEgress(
  service: ServiceConfig,
  route: EgressRoute,
  faults: readonly DesiredFault[],
): DesiredEgress | undefined {
  const deps = Object.entries(service.dependencies);
  if (!service.egress || deps.length === 0) return undefined;
  const pools = service.mirroring.baseline ? ['main', 'baseline'] : ['main'];
  const callers = Object.keys(service.provisioner.versions).flatMap((version) =>
    pools.map((pool) => ({ version, pool, role: callerRole(route, version, pool) })),
  );
  const listen = splitHostPort(service.egress);
  return {
    listener: { address: listen.host, port: listen.port },
    dependencies: deps.map(([name, at]) => {
      const { host, port } = splitHostPort(at);
      return { name, endpoint: { address: host, port } };
    }),
    callers,
    faults: [...faults],
  };
}
