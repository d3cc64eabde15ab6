/**
 * Which of a service's requests enter the Umbra filter, and what the filter
 * then decides inside, so that the end result is what the user configured.
 * Pure.
 *
 * With `random` and `geographic` Envoy samples before the VM: a route takes
 * a `runtime_fraction` of requests, f = mirror share p + live sample L, into
 * the filter (for geographic, requests from a listed region at f and every
 * other request at L). Inside, the filter mirrors p / f of what it sees and
 * gives every other request a live record (`liveSampleEvery` 1), so p of the
 * eligible requests are mirrored and L of all requests give a live record,
 * as before; the rest never enter the VM. With adaptive shadowing the route
 * is made for the range's max p and the share in force q ≤ p is carried by
 * the filter alone (q / f of what enters), so it moves without an RDS push;
 * the live sample is then a little above L while q < p (requests that enter
 * for the unused p − q get a live record). `user-segment` needs the consistent
 * hash of every request: the whole route keeps the filter, which mirrors p
 * and gives one live record per round(100 / L) of the others. In overlay
 * mode every strategy does as user-segment does: the routes are the
 * upstream's, edited as little as can be (no split into sampled routes).
 */
import type { ServiceConfig } from '../config/schema.js';
import type { DesiredFilterGate } from '../xds/index.js';

/** What the routing table knows of a service's route that matters here. */
export interface GateInput {
  /** A phase needs the filter (rollout/desired.ts FILTER_PHASES). */
  filter: boolean;
  /** The mirror share (0..100) while mirroring, else null. */
  mirrorPercentage: number | null;
  /**
   * The routes are an upstream control plane's (overlay mode): Umbra turns
   * the filter on for a whole route and splits nothing before the VM.
   */
  wholeRoute?: boolean;
}

/** The gate and the percentage the filter applies to the requests it sees. */
export interface FilterGatePlan {
  /** Absent: the filter runs for no request. */
  gate?: DesiredFilterGate;
  /** The filter's own percentage for a configured share p (what control messages carry). */
  insidePercentage(p: number): number;
}

/** The share of requests that enter the filter for a mirror share p and a live sample L. */
function entering(p: number, live: number): number {
  return Math.min(100, p + live);
}

/** The filter's percentage so that q % of all requests are mirrored when f % enter. */
function scaled(q: number, f: number): number {
  return f <= 0 ? 0 : Math.min(100, (100 * q) / f);
}

/** The filter sees every request of the route and samples inside: user-segment, and every strategy in overlay mode. */
function samplesInside(service: ServiceConfig, wholeRoute: boolean): boolean {
  return service.mirroring.mirroringStrategy === 'user-segment' || wholeRoute;
}

/** The gate for a service's route (see the module comment). */
export function filterGatePlan(service: ServiceConfig, route: GateInput): FilterGatePlan {
  const m = service.mirroring;
  const live = m.liveSample;
  if (!route.filter) return { insidePercentage: () => 0 };
  if (samplesInside(service, route.wholeRoute === true))
    return { gate: { share: 100 }, insidePercentage: (p) => p };
  const p = route.mirrorPercentage ?? 0;
  // The route lets f = p + L % in, p the route's share (an adaptive plan's max): a share in
  // force q ≤ p is q / f of what enters, so it moves without a route push.
  const f = entering(p, live);
  const insidePercentage = (q: number) => scaled(q, f);
  if (m.mirroringStrategy === 'geographic' && m.geographic) {
    const regions = { header: m.geographic.header.toLowerCase(), values: m.geographic.regions };
    return { gate: { share: live, regions: { ...regions, share: entering(p, live) } }, insidePercentage };
  }
  return { gate: { share: entering(p, live) }, insidePercentage };
}

/**
 * The filter's `liveSampleEvery`: 1 where Envoy samples before the VM (every
 * non-mirrored request that enters gets a live record), one in round(100 / L)
 * for user-segment and whole routes; 0 (none) when the live sample is 0.
 */
export function liveSampleEvery(service: ServiceConfig, wholeRoute = false): number {
  const live = service.mirroring.liveSample;
  if (live <= 0) return 0;
  if (!samplesInside(service, wholeRoute)) return 1;
  return Math.max(1, Math.round(100 / live));
}
