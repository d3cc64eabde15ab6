/**
 * Journeys' endpoints in the judge (`synthetic:<journey>/<step>`). Their
 * pairs are the same kind of evidence as mirrored ones, but they are not
 * user traffic, so:
 *
 * - each such endpoint's scope has a weight of its own, fixed by
 *   configuration before the run (`JudgeParams.synthetic`), taken from the
 *   budget before the paired scopes share the rest — the weights still sum
 *   to at most 1, so E = Σ w·E stays an e-value;
 * - their cells count only in that endpoint scope: not in the service, its
 *   segments or cells, and not in the production health guard (a journey
 *   failing on both versions says nothing about production's users);
 * - their pairs count toward the minimum sample (evidence where traffic is thin).
 */
import type { JudgeParams, JudgeState } from './types.js';

/** The weight of a journey endpoint's scope, or undefined when `endpoint` is not one. */
export function syntheticWeight(params: JudgeParams, endpoint: string): number | undefined {
  return params.synthetic?.[endpoint];
}

/** The budget journeys hold (0 without journeys). */
export function syntheticTotal(params: JudgeParams): number {
  let w = 0;
  for (const v of Object.values(params.synthetic ?? {})) w += v;
  return w;
}

/** Pairs judged on journey endpoints (after warm-up). */
export function syntheticPairs(s: JudgeState, params: JudgeParams): number {
  let n = 0;
  for (const scope of Object.values(s.scopes)) {
    if (scope.kind === 'endpoint' && syntheticWeight(params, scope.endpoint) !== undefined)
      n += scope.cand.pairs;
  }
  return n;
}
