/**
 * Retries on production's routes: an instance that dies abruptly (SIGKILL,
 * a crash, a machine gone) stays in Envoy's endpoints until routing takes it
 * out, and until then requests sent to it fail. Only what is safe to send
 * again is retried, at most twice, each time on another host:
 *
 * - any request whose connection was never established (`connect-failure`:
 *   refused, or the cluster's `connect_timeout` passed) or that was reset
 *   before a byte of it went upstream (`reset-before-request`): no instance
 *   saw it;
 * - an idempotent request (GET, HEAD, OPTIONS: RFC 9110 §9.2.2 lets a
 *   client repeat them after a lost connection) also when the connection
 *   was reset after it went upstream (`reset`): an instance dying with it in
 *   flight, or closing a kept-alive connection as Envoy reused it.
 *
 * A write (POST, PUT, …) that may have reached an instance is never sent
 * again, and a response that has begun is never replaced: Envoy retries only
 * before it forwards response headers. No per-try timeout is set (it would
 * cut a slow answer too); the connect is bounded by the cluster's
 * `connect_timeout`. The filter's own calls (the mirrored copies) are
 * callouts, not routes: they are never retried.
 *
 * NOTE: Envoy's router docs (x-envoy-retry-on) name the conditions;
 * `reset-before-request` is a recent one: Envoy 1.40 accepts it (its routes
 * are ACKed in test/integration/e2e/instance-kill-retry.test.ts). Without a
 * retry budget, Envoy allows 3 retries at once per cluster (its circuit
 * breaker default). A retry policy applies to every request of its route, so each
 * route is split in two by method: idempotent requests first, then the
 * others (the inverted match). Both halves keep the route's other matchers;
 * a `runtime_fraction` draws one random value per request for every route,
 * so the halves split the same share.
 */

const PREVIOUS_HOSTS_TYPE =
  'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';
/** The methods retried after a reset too. */
const IDEMPOTENT = '^(GET|HEAD|OPTIONS)$';

/** The retry policy for `retry_on` conditions: twice at most, never the same host again. */
function policy(retryOn: string): object {
  return {
    retry_on: retryOn,
    num_retries: { value: 2 },
    retry_host_predicate: [
      { name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': PREVIOUS_HOSTS_TYPE } },
    ],
    host_selection_retry_max_attempts: 5,
  };
}

/**
 * The version clusters' retry budget, in place of Envoy's default of 3
 * retries at once per cluster: retries at once may be half the requests
 * active on the cluster, and at least 10. One instance dying among two
 * fails about half the requests sent to the cluster until routing follows,
 * so the default left some unretried (`upstream_rq_retry_overflow`); a
 * budget still bounds the extra load when every instance fails.
 * NOTE: with `retry_budget` set, Envoy ignores `max_retries`; the other
 * thresholds keep their defaults.
 */
export function retryBudget(): object {
  return {
    thresholds: [
      {
        priority: 'DEFAULT',
        retry_budget: { budget_percent: { value: 50 }, min_retry_concurrency: { value: 10 } },
      },
    ],
  };
}

/** What is retried for idempotent requests, and for the others. */
export const RETRY_ON = {
  idempotent: 'connect-failure,reset-before-request,reset',
  other: 'connect-failure,reset-before-request',
} as const;

interface RouteLike {
  match: { headers?: object[] } & Record<string, unknown>;
  route: Record<string, unknown>;
}

/**
 * Production's routes with retries: each route that forwards (`route`) is
 * split into its idempotent half and the rest, each with its policy.
 */
export function withRetries(routes: readonly object[]): object[] {
  const out: object[] = [];
  for (const r of routes as readonly RouteLike[]) {
    if (!r.route) {
      out.push(r);
      continue;
    }
    const method = (invert: boolean) => ({
      name: ':method',
      string_match: { safe_regex: { regex: IDEMPOTENT } },
      ...(invert ? { invert_match: true } : {}),
    });
    const half = (invert: boolean, retryOn: string) => ({
      ...r,
      match: { ...r.match, headers: [...(r.match.headers ?? []), method(invert)] },
      route: { ...r.route, retry_policy: policy(retryOn) },
    });
    out.push(half(false, RETRY_ON.idempotent), half(true, RETRY_ON.other));
  }
  return out;
}
