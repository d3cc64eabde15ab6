/**
 * Seeded cell simulator for the judge's unit tests: pairs drawn request by
 * request with independent arms, summarised into CellStats exactly as the
 * aggregator defines them.
 */
import { type CellStats, emptyPaired } from '../../../daemon/aggregate/stats.js';
import { defaultModel, type Model, type NoiseFloor } from '../../../daemon/model/model.js';

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export interface ArmSpec {
  errorRate: number;
  /** Median latency multiplier relative to the primary (1 = same). */
  latencyFactor: number;
  bodyChangeRate: number;
}

export interface CellSpec {
  endpoint: string;
  segment: string;
  pairsPerSecond: number;
  primary: ArmSpec;
  shadow: ArmSpec;
  medianUs: number;
  /** Log-normal sigma of per-arm latency noise. */
  sigma: number;
  /** Unmirrored production requests per mirrored one (reported as live counts of cluster `stable`). */
  liveFactor: number;
}

const SAME: ArmSpec = { errorRate: 0.002, latencyFactor: 1, bodyChangeRate: 0 };

export type SpecInput = Partial<Omit<CellSpec, 'shadow' | 'primary'>> & {
  shadow?: Partial<ArmSpec>;
  primary?: Partial<ArmSpec>;
};

export function spec(over: SpecInput = {}): CellSpec {
  return {
    endpoint: over.endpoint ?? 'GET /a',
    segment: over.segment ?? 'eu',
    pairsPerSecond: over.pairsPerSecond ?? 100,
    primary: { ...SAME, ...over.primary },
    shadow: { ...SAME, ...over.primary, ...over.shadow },
    medianUs: over.medianUs ?? 3000,
    sigma: over.sigma ?? 0.3,
    liveFactor: over.liveFactor ?? 0,
  };
}

/** One second of one cell. Margin 5 % + 100 µs; tail threshold at the primary's p99 (z = 2.326). */
export function simulateCell(r: () => number, s: CellSpec, second: number, service = 'svc'): CellStats {
  const c = emptyPaired();
  const tail = s.medianUs * Math.exp(2.326 * s.sigma);
  const examples: string[] = [];
  for (let i = 0; i < s.pairsPerSecond; i++) {
    c.pairs++;
    const pf = r() < s.primary.errorRate;
    const sf = r() < s.shadow.errorRate;
    if (pf) c.primaryFailed++;
    if (sf) c.shadowFailed++;
    if (sf && !pf) {
      c.errShadowOnly++;
      if (examples.length < 3) examples.push(`req-${second}-${i}`);
    }
    if (pf && !sf) c.errPrimaryOnly++;
    if (pf !== sf) c.statusMismatch++;
    else if (r() < s.shadow.bodyChangeRate) c.bodyMismatch++;
    if (pf || sf) continue;
    const lp = s.medianUs * s.primary.latencyFactor * Math.exp(s.sigma * gauss(r));
    const ls = s.medianUs * s.shadow.latencyFactor * Math.exp(s.sigma * gauss(r));
    if (ls > lp * 1.05 + 100) c.latShadowSlower++;
    else if (lp > ls * 1.05 + 100) c.latPrimarySlower++;
    if (ls > tail && lp <= tail) c.tailShadowOnly++;
    else if (lp > tail && ls <= tail) c.tailPrimaryOnly++;
    c.latDeltaSumUs += ls - lp;
    c.latPrimarySumUs += lp;
    c.latPairs++;
  }
  const liveRequests = Math.round(s.pairsPerSecond * s.liveFactor);
  let liveFailed = 0;
  for (let i = 0; i < liveRequests; i++) if (r() < s.primary.errorRate) liveFailed++;
  return {
    key: { service, endpoint: s.endpoint, segment: s.segment, second },
    candidate: c,
    baseline: emptyPaired(),
    live:
      liveRequests > 0
        ? { stable: { requests: liveRequests, failed: liveFailed, overTail: 0, latSumUs: 0 } }
        : {},
    examples: examples.length > 0 ? { errors: examples } : {},
  };
}

/** A trained model (version 2) whose history learned `floor` for GET /a. */
export function modelWithFloor(floor: Omit<NoiseFloor, 'pairs'>): Model {
  const m = defaultModel();
  return { ...m, version: 2, params: { ...m.params, floors: { 'GET /a': { pairs: 100_000, ...floor } } } };
}
