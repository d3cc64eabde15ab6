/**
 * How the false-alarm budget is split across scopes (service, endpoints,
 * segments, endpoint × segment cells) so that the guarantee holds overall.
 *
 * Every scope kind gets a fixed share of the budget. Within a kind, slots are
 * handed out in order of first appearance (ties broken by name): each of the
 * first N expected slots gets an equal part of (1 − overflow) of the share,
 * and the j-th slot beyond N gets overflow × 1/((j+1)(j+2)), a sequence that
 * sums to one. The weight of every possible slot is therefore fixed before
 * any outcome is seen — which slot a scope lands in depends on names and
 * arrival order, never on errors or latencies — and the weights of all
 * slots, used or not, sum to the kind's share. Unused slots count as e-value
 * 1, so the combined E = Σ w·E over every slot is a mixture of test
 * supermartingales with Σ w = 1 (Vovk & Wang, "E-values: calibration,
 * combination and applications", Annals of Statistics 49 (2021): a weighted
 * average of e-values is an e-value).
 *
 * When the model was trained on the service's history it knows its
 * endpoints: each known endpoint then has its own slot of
 * share × (1 − overflow) / K, fixed by the model before the run, and
 * endpoints history never saw take the overflow slots in order of arrival.
 */
import { emptyPaired } from '../aggregate/stats.js';
import type { Model } from '../model/model.js';
import { syntheticTotal, syntheticWeight } from './synthetic.js';
import type { JudgeParams, JudgeState, ScopeKind, ScopeState } from './types.js';

export const ALL = '*';

export function scopeKey(endpoint: string, segment: string): string {
  return `${endpoint}\u0000${segment}`;
}

export function scopeKindOf(endpoint: string, segment: string): ScopeKind {
  if (endpoint === ALL && segment === ALL) return 'service';
  if (segment === ALL) return 'endpoint';
  if (endpoint === ALL) return 'segment';
  return 'cell';
}

/** Weight of the `index`-th slot (0-based) of a kind. */
export function slotWeight(params: JudgeParams, kind: ScopeKind, index: number): number {
  const share = params.scopeShares[kind] * pairedShare(params);
  if (kind === 'service') return index === 0 ? share : 0;
  const n = Math.max(1, Math.floor(params.slots[kind]));
  const overflow = Math.min(Math.max(params.overflowShare, 0), 1);
  if (index < n) return (share * (1 - overflow)) / n;
  const j = index - n;
  return (share * overflow) / ((j + 1) * (j + 2));
}

/**
 * Weight of an endpoint when the model knows K endpoints: a known one gets
 * share × (1 − overflow) / K; the j-th unknown one (0-based) the overflow
 * sequence share × overflow / ((j+1)(j+2)).
 */
export function knownEndpointWeight(
  params: JudgeParams,
  known: number,
  isKnown: boolean,
  unknownIndex: number,
): number {
  const share = params.scopeShares.endpoint * pairedShare(params);
  const overflow = Math.min(Math.max(params.overflowShare, 0), 1);
  if (isKnown) return (share * (1 - overflow)) / known;
  return (share * overflow) / ((unknownIndex + 1) * (unknownIndex + 2));
}

/** Part of the budget for paired signals (the rest goes to live signals when they are judged, and to journeys). */
export function pairedShare(params: JudgeParams): number {
  return (params.liveCandidateCluster ? 1 - params.liveShare : 1) - syntheticTotal(params);
}

/** A fresh judge state: nothing seen, E = 1. */
export function initialJudgeState(): JudgeState {
  return {
    formatVersion: 1,
    service: null,
    firstSecond: null,
    lastSecond: null,
    slotsUsed: { endpoint: 0, segment: 0, cell: 0 },
    scopes: {},
    live: {
      candRequests: 0,
      candFailed: 0,
      candOverTail: 0,
      otherRequests: 0,
      otherFailed: 0,
      otherOverTail: 0,
      wealthErrors: [],
      wealthTail: [],
    },
    health: [],
    scores: [],
    bodies: {},
  };
}

/** Creates a scope in `state` (mutating the working copy) with the next slot of its kind. */
export function addScope(
  state: JudgeState,
  params: JudgeParams,
  model: Model,
  endpoint: string,
  segment: string,
): ScopeState | undefined {
  const kind = scopeKindOf(endpoint, segment);
  if (kind === 'cell' && Object.keys(state.scopes).length >= params.maxScopes) return undefined;
  let weight: number;
  const known = Object.keys(model.params.floors).length;
  const synthetic = kind === 'endpoint' ? syntheticWeight(params, endpoint) : undefined;
  if (synthetic !== undefined) weight = synthetic;
  else if (kind === 'service') weight = slotWeight(params, kind, 0);
  else if (kind === 'endpoint' && known > 0) {
    weight = knownEndpointWeight(params, known, endpoint in model.params.floors, state.slotsUsed.endpoint);
    if (!(endpoint in model.params.floors)) state.slotsUsed.endpoint += 1;
  } else {
    weight = slotWeight(params, kind, state.slotsUsed[kind]);
    state.slotsUsed[kind] += 1;
  }
  const m = model.params.rateMixture.length;
  const scope: ScopeState = {
    kind,
    endpoint,
    segment,
    weight,
    cand: emptyPaired(),
    base: emptyPaired(),
    wealth: { errors_rate: zeros(m), status_mismatch: zeros(m), body_mismatch: zeros(m) },
    recent: [],
    floorCheck: zeros(m),
    floorCheckLive: zeros(m),
    floorContradicted: false,
    rateSkips: 0,
    lastFloor: { errors_rate: 0, status_mismatch: 0, body_mismatch: 0 },
    examples: {},
  };
  state.scopes[scopeKey(endpoint, segment)] = scope;
  return scope;
}

/** Total weight of the slots handed out (the remainder sits in unused slots at E = 1). */
export function assignedWeight(state: JudgeState): number {
  let w = 0;
  for (const s of Object.values(state.scopes)) w += s.weight;
  return w;
}

function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}
