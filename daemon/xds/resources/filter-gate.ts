/**
 * Route gating of the Umbra filter: the routes of one service, each with the
 * filter enabled or left disabled (the listener renders it disabled).
 *
 * NOTE: an HTTP filter disabled in the HttpConnectionManager (`disabled:
 * true`) and not enabled by the request's route is not created for that
 * request at all (Envoy's filter chain helper skips it; seen on Envoy 1.40:
 * within noise of no filter). A route enables it with a
 * `envoy.config.route.v3.FilterConfig` whose `config` is an empty Any. Both
 * live in RDS, so turning the filter on or off drains no listener.
 *
 * NOTE: Envoy matches `runtime_fraction` and picks a weighted cluster with
 * the same per-request random value (the stream id: `value % denominator <
 * numerator`, `value % total_weight`). With the MILLION denominator and a
 * numerator that is a multiple of the total weight, the sampled requests
 * still split across the weighted clusters in the configured proportions;
 * with HUNDRED and weights summing to 100, a 5 % route would send every
 * sampled request to the first cluster. The same value also nests the
 * fractions of successive routes: a request that missed a route's fraction f
 * misses every later fraction ≤ f.
 */
import type { DesiredFilterGate } from './desired.js';

/** The Umbra filter's name in the HCM (the key of `typed_per_filter_config`). */
export const FILTER_NAME = 'umbra';

/**
 * The request header the filter sets on the requests of an A/B split's users
 * in B. NOTE: the filter's default `splitHeader` (filter/assembly/config.ts),
 * so the listener needs no setting for it.
 */
export const SPLIT_HEADER = 'x-umbra-arm';

const FILTER_CONFIG_TYPE = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';
const MILLION = 1_000_000;

/** `typed_per_filter_config` that enables the (default-disabled) Umbra filter on a route. */
export function filterEnabled(): Record<string, object> {
  return { [FILTER_NAME]: { '@type': FILTER_CONFIG_TYPE, config: {} } };
}

/**
 * Parts per million for a share of requests, rounded to a multiple of the
 * route's total weight when it divides a million (see the NOTE above).
 */
export function sharePpm(share: number, totalWeight: number): number {
  const ppm = Math.round(Math.min(100, Math.max(0, share)) * 10_000);
  if (totalWeight <= 0 || MILLION % totalWeight !== 0) return ppm;
  return Math.round(ppm / totalWeight) * totalWeight;
}

function fraction(ppm: number): object {
  return { default_value: { numerator: ppm, denominator: 'MILLION' } };
}

/** `(?i)^(?:a|b)$` for literal region names. */
function regionRegex(values: string[]): string {
  const escaped = values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return `(?i)^(?:${escaped.join('|')})$`;
}

/**
 * The routes of a split (desired.ts `DesiredSplit`), first match wins:
 * requests carrying `header: b` go to `splitCluster` (the header removed
 * before the upstream), every other one takes `action`; both run the filter,
 * which sets the header on the request before the router picks the route.
 * Requests the filter leaves alone are routed as without a split.
 */
export function splitRoutes(action: object, splitCluster: string, header: string, timeout: object): object[] {
  const on = { typed_per_filter_config: filterEnabled() };
  return [
    {
      match: { prefix: '/', headers: [{ name: header, string_match: { exact: 'b' } }] },
      route: { cluster: splitCluster, timeout },
      request_headers_to_remove: [header],
      ...on,
    },
    { match: { prefix: '/' }, route: action, ...on },
  ];
}

/**
 * The routes of a service, first match wins: with no gate one route without
 * the filter; otherwise the routes that enable it for the gate's share (and
 * its regions), then a catch-all without it. `action` is shared by all.
 */
export function gatedRoutes(
  action: object,
  gate: DesiredFilterGate | undefined,
  totalWeight: number,
): object[] {
  const plain = { match: { prefix: '/' }, route: action };
  if (!gate) return [plain];
  // NOTE: a filter that still holds a split share the daemon no longer knows of (a daemon
  // restarted during an A/B test: experiments live in its memory) would set the split header;
  // where no split route takes it, it is removed, so no upstream ever sees it.
  const on = {
    typed_per_filter_config: filterEnabled(),
    route: action,
    request_headers_to_remove: [SPLIT_HEADER],
  };
  const routes: object[] = [];
  const r = gate.regions;
  if (r && r.share > 0) {
    const ppm = sharePpm(r.share, totalWeight);
    routes.push({
      match: {
        prefix: '/',
        headers: [{ name: r.header, string_match: { safe_regex: { regex: regionRegex(r.values) } } }],
        ...(ppm < MILLION ? { runtime_fraction: fraction(ppm) } : {}),
      },
      ...on,
    });
  }
  const ppm = sharePpm(gate.share, totalWeight);
  if (ppm >= MILLION) return [...routes, { match: { prefix: '/' }, ...on }];
  if (ppm > 0) routes.push({ match: { prefix: '/', runtime_fraction: fraction(ppm) }, ...on });
  return [...routes, plain];
}
