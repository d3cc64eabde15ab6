/**
 * Generates recorded telemetry (the replay JSON-lines records) for A/A runs
 * and for each regression kind, with the nuisances real services have:
 * bursts of shared-dependency errors in both arms, cold shadow caches,
 * request-dependent latency shared by both arms, dynamic bodies
 * (timestamps), timeouts, low traffic. Everything is drawn from a seed.
 */
import type { FlagName, JsonLineRecord } from '../../daemon/replay/jsonl.js';
import { between, gauss, logBetween, pick, poisson, rng, weighted } from './rng.js';

/** A generated record: a line of the replay JSON-lines format with every field the scenarios use filled in. */
export interface ScenarioRecord extends JsonLineRecord {
  start_us: number;
  arm: 'primary' | 'candidate';
  segment: string;
  /** '' for an arm without a body (a failure or a timeout). */
  body_hash: string;
  flags: FlagName[];
}

export interface EndpointProfile {
  name: string;
  /** Share of requests. */
  share: number;
  medianUs: number;
  /** Log-normal spread of latency; part is shared by both arms of a pair (the request's own cost). */
  sigma: number;
  /** Production's own failure rate. */
  baseErrorRate: number;
  /** Bodies carry a timestamp or id: every response differs. */
  dynamicBody: boolean;
  /** Distinct deterministic bodies (by request). */
  bodyVariants: number;
}

export interface ServiceProfile {
  service: string;
  endpoints: EndpointProfile[];
  segments: { name: string; share: number }[];
}

export type Kind =
  | 'aa'
  | 'error_step'
  | 'intermittent_errors'
  | 'latency_median'
  | 'latency_tail'
  | 'body_change'
  | 'segment_only'
  | 'slow_leak';

export const KINDS: readonly Kind[] = [
  'aa',
  'error_step',
  'intermittent_errors',
  'latency_median',
  'latency_tail',
  'body_change',
  'segment_only',
  'slow_leak',
];

export interface Burst {
  startS: number;
  durS: number;
  /** Probability that the shared dependency fails a request during the burst. */
  rate: number;
  /** Share of those failures that hit both arms of the pair (the rest hit one arm). */
  correlation: number;
}

export interface Regression {
  /** Where: one endpoint and/or one segment; undefined means everywhere. */
  endpoint?: string;
  segment?: string;
  /** Kind-specific size: absolute error rate, relative latency shift, share of changed bodies, … */
  magnitude: number;
  /** Second at which the regression starts. */
  onsetS: number;
  /** For segment_only: which signal regresses. */
  signal?: 'errors' | 'latency';
}

export interface Scenario {
  kind: Kind;
  seed: number;
  profile: ServiceProfile;
  /** Mirrored requests per second. */
  rps: number;
  durationS: number;
  regression: Regression | null;
  bursts: Burst[];
  /** Candidate latency multiplier 1 + coldFactor·e^(−t/coldTauS) (cold caches). */
  coldFactor: number;
  coldTauS: number;
  /** Shadow timeout: a slower arm is recorded as status 0 with the timeout flag. */
  timeoutUs: number;
  /** A cold start that lasts: the candidate's latency × 1 + coldFactor·(1 − t/coldUntilS) until coldUntilS (else the e^(−t/τ) shape). */
  coldUntilS?: number;
  /** Share of records lost in transport (each record alike, both arms). */
  lossRate?: number;
  /** Failed arms carry `"body_hash": ""` instead of no body_hash field. */
  emptyHashes?: boolean;
}

const ENDPOINT_NAMES = [
  'GET /cart',
  'GET /products',
  'GET /product/{id}',
  'GET /search',
  'GET /user/profile',
  'GET /recommendations',
  'GET /orders',
  'HEAD /health',
];
const SEGMENT_NAMES = ['eu', 'us', 'ap'];

/** A random but plausible service: 3–6 endpoints, 1–3 segments, medians from 1 ms to 80 ms. */
export function randomProfile(seed: number, service = 'shop'): ServiceProfile {
  const r = rng(seed);
  const n = 3 + Math.floor(r() * 4);
  const names = ENDPOINT_NAMES.slice()
    .sort(() => r() - 0.5)
    .slice(0, n);
  const endpoints = names.map((name) => ({
    name,
    share: logBetween(r, 0.5, 4),
    medianUs: Math.round(logBetween(r, 1000, 80000)),
    sigma: between(r, 0.2, 0.6),
    baseErrorRate: logBetween(r, 0.0001, 0.002),
    dynamicBody: r() < 0.25,
    bodyVariants: 1 + Math.floor(r() * 50),
  }));
  const total = endpoints.reduce((a, e) => a + e.share, 0);
  for (const e of endpoints) e.share /= total;
  const ns = 1 + Math.floor(r() * 3);
  const segs = SEGMENT_NAMES.slice(0, ns).map((name) => ({ name, share: between(r, 0.2, 1) }));
  const st = segs.reduce((a, s) => a + s.share, 0);
  for (const s of segs) s.share /= st;
  return { service, endpoints, segments: segs };
}

/**
 * The `count` service profiles bench:judge runs under `--seed benchSeed`
 * (`svc0`, `svc1`, …), so a run it reports can be rebuilt alone.
 */
export function suiteProfiles(benchSeed: number, count: number): ServiceProfile[] {
  return Array.from({ length: count }, (_, i) => randomProfile(benchSeed * 100 + i + 1, `svc${i}`));
}

/** A scenario of one kind at one traffic rate, with random nuisances. */
export function makeScenario(kind: Kind, profile: ServiceProfile, rps: number, seed: number): Scenario {
  const r = rng(seed ^ 0x9e3779b9);
  const durationS = kind === 'slow_leak' ? 180 : 60;
  const bursts: Burst[] = [];
  const nb = poisson(r, durationS / 60);
  for (let i = 0; i < nb; i++) {
    bursts.push({
      startS: between(r, 0, durationS - 5),
      durS: between(r, 1, 6),
      rate: logBetween(r, 0.01, 0.3),
      correlation: between(r, 0.7, 0.98),
    });
  }
  const ep = pick(
    r,
    profile.endpoints.filter((e) => !e.dynamicBody).length > 0
      ? profile.endpoints.filter((e) => !e.dynamicBody)
      : profile.endpoints,
  );
  let regression: Regression | null = null;
  switch (kind) {
    case 'aa':
      break;
    case 'error_step':
      regression = { magnitude: pick(r, [0.01, 0.01, 0.02, 0.05]), onsetS: 0 };
      break;
    case 'intermittent_errors':
      regression = { magnitude: between(r, 0.1, 0.3), onsetS: between(r, 0, 5) };
      break;
    case 'latency_median':
      regression = { endpoint: ep.name, magnitude: pick(r, [0.2, 0.2, 0.3, 0.5]), onsetS: 0 };
      break;
    case 'latency_tail':
      regression = {
        endpoint: r() < 0.5 ? ep.name : undefined,
        magnitude: between(r, 0.02, 0.06),
        onsetS: 0,
      };
      break;
    case 'body_change':
      regression = { endpoint: ep.name, magnitude: pick(r, [1, 1, 0.5, 0.2]), onsetS: 0 };
      break;
    case 'segment_only': {
      const seg = pick(r, profile.segments);
      regression = {
        segment: seg.name,
        signal: r() < 0.5 ? 'errors' : 'latency',
        magnitude: 0,
        onsetS: 0,
      };
      regression.magnitude = regression.signal === 'errors' ? pick(r, [0.02, 0.05]) : pick(r, [0.3, 0.5]);
      break;
    }
    case 'slow_leak':
      regression = { magnitude: between(r, 0.2, 0.5), onsetS: 0 };
      break;
  }
  return {
    kind,
    seed,
    profile,
    rps,
    durationS,
    regression,
    bursts,
    coldFactor: r() < 0.5 ? between(r, 0.3, 1.5) : 0,
    coldTauS: between(r, 0.5, 1.5),
    timeoutUs: 1_000_000,
  };
}

function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

function applies(reg: Regression | null, endpoint: string, segment: string, t: number): reg is Regression {
  if (!reg || t < reg.onsetS) return false;
  if (reg.endpoint !== undefined && reg.endpoint !== endpoint) return false;
  if (reg.segment !== undefined && reg.segment !== segment) return false;
  return true;
}

/** Extra candidate failure probability at time t (seconds). */
function extraErrors(s: Scenario, endpoint: string, segment: string, t: number): number {
  const reg = s.regression;
  if (!applies(reg, endpoint, segment, t)) return 0;
  switch (s.kind) {
    case 'error_step':
      return reg.magnitude;
    case 'intermittent_errors': {
      // 1.5 s of trouble every 12 s.
      const phase = (t - reg.onsetS) % 12;
      return phase < 1.5 ? reg.magnitude : 0;
    }
    case 'segment_only':
      return reg.signal === 'errors' ? reg.magnitude : 0;
    default:
      return 0;
  }
}

/** Candidate latency multiplier at the median at time t. */
function latencyFactor(s: Scenario, endpoint: string, segment: string, t: number): number {
  let f =
    s.coldUntilS !== undefined
      ? 1 + s.coldFactor * Math.max(0, 1 - t / s.coldUntilS)
      : 1 + s.coldFactor * Math.exp(-t / s.coldTauS);
  const reg = s.regression;
  if (!applies(reg, endpoint, segment, t)) return f;
  if (s.kind === 'latency_median') f *= 1 + reg.magnitude;
  if (s.kind === 'segment_only' && reg.signal === 'latency') f *= 1 + reg.magnitude;
  if (s.kind === 'slow_leak') f *= 1 + (reg.magnitude * (t - reg.onsetS)) / 60;
  return f;
}

function burstAt(s: Scenario, t: number): Burst | undefined {
  return s.bursts.find((b) => t >= b.startS && t < b.startS + b.durS);
}

/** The records of a scenario, in time order, primary and candidate arms of every mirrored request. */
export function generate(s: Scenario): ScenarioRecord[] {
  const r = rng(s.seed);
  const out: ScenarioRecord[] = [];
  const epWeights = s.profile.endpoints.map((e) => e.share);
  const segWeights = s.profile.segments.map((g) => g.share);
  let id = 0;
  for (let sec = 0; sec < s.durationS; sec++) {
    const n = poisson(r, s.rps);
    const times = Array.from({ length: n }, () => sec + r()).sort((a, b) => a - b);
    for (const t of times) {
      const ep = s.profile.endpoints[weighted(r, epWeights)]!;
      const seg = s.profile.segments[weighted(r, segWeights)]!.name;
      const requestId = `${s.seed.toString(16)}-${(id++).toString(16)}`;
      // Failures: production's own, shared-dependency bursts, the regression.
      let pf = r() < ep.baseErrorRate;
      let cf = r() < ep.baseErrorRate + extraErrors(s, ep.name, seg, t);
      const burst = burstAt(s, t);
      if (burst && r() < burst.rate) {
        if (r() < burst.correlation) {
          pf = true;
          cf = true;
        } else if (r() < 0.5) pf = true;
        else cf = true;
      }
      // Latency: the request's own cost (shared), plus per-arm noise.
      const shared = Math.exp(ep.sigma * 0.8 * gauss(r));
      let lp = ep.medianUs * shared * Math.exp(ep.sigma * 0.6 * gauss(r));
      let lc = ep.medianUs * shared * Math.exp(ep.sigma * 0.6 * gauss(r)) * latencyFactor(s, ep.name, seg, t);
      if (
        s.kind === 'latency_tail' &&
        applies(s.regression, ep.name, seg, t) &&
        r() < s.regression.magnitude
      ) {
        lc *= between(r, 3, 6);
      }
      if (r() < 0.002) lp *= between(r, 3, 8);
      if (r() < 0.002) lc *= between(r, 3, 8);
      const variant = Math.floor(r() * ep.bodyVariants);
      const body = hash(`${ep.name}#${variant}`);
      const bodyP = ep.dynamicBody ? hash(`${requestId}p${r()}`) : body;
      let bodyC = ep.dynamicBody ? hash(`${requestId}c${r()}`) : body;
      if (
        s.kind === 'body_change' &&
        applies(s.regression, ep.name, seg, t) &&
        r() < s.regression.magnitude
      ) {
        bodyC = hash(`${body}-v2`);
      }
      // The copy is dispatched once the request is complete: a few hundred µs after the primary starts.
      const tUs = Math.round(t * 1e6);
      out.push(record(s, requestId, 'primary', ep.name, seg, tUs, pf, lp, bodyP));
      out.push(
        record(s, requestId, 'candidate', ep.name, seg, tUs + 200 + Math.round(r() * 300), cf, lc, bodyC),
      );
    }
  }
  out.sort((a, b) => a.t_us - b.t_us);
  if (!s.lossRate) return out;
  // Loss is drawn apart, so a lossy scenario is its lossless twin minus some records.
  const lr = rng(s.seed ^ 0x5bd1e995);
  return out.filter(() => lr() >= s.lossRate!);
}

function record(
  s: Scenario,
  requestId: string,
  arm: 'primary' | 'candidate',
  endpoint: string,
  segment: string,
  startUs: number,
  failed: boolean,
  latencyUs: number,
  body: string,
): ScenarioRecord {
  const timeout = latencyUs > s.timeoutUs;
  const latency = Math.round(Math.min(latencyUs, s.timeoutUs));
  return {
    t_us: startUs + latency,
    start_us: startUs,
    service: s.profile.service,
    request_id: requestId,
    arm,
    endpoint,
    segment,
    status: timeout ? 0 : failed ? 503 : 200,
    latency_us: latency,
    body_hash: failed || timeout ? '' : body,
    flags: timeout ? ['timeout'] : [],
  };
}

/** With `emptyHashes`, one request in 20 has no hash in either arm (a producer that hashes only some bodies). */
function noHash(requestId: string): boolean {
  return Number.parseInt(hash(requestId).slice(-2), 16) % 20 === 0;
}

/**
 * JSON lines in the replay format (with the proxy/worker/bytes fields a
 * recording has). A failed arm has no body: the field is left out, or with
 * `emptyHashes` written as `""` (another producer's way of saying so, also
 * for some bodies it did not hash).
 */
export function toJsonLines(records: readonly ScenarioRecord[], emptyHashes = false): string {
  return records
    .map((x) =>
      JSON.stringify({
        t_us: x.t_us,
        start_us: x.start_us,
        proxy: 'envoy-1',
        worker: 0,
        service: x.service,
        request_id: x.request_id,
        arm: x.arm,
        endpoint: x.endpoint,
        segment: x.segment,
        status: x.status,
        latency_us: x.latency_us,
        bytes: x.status === 200 ? 800 : 0,
        ...(x.body_hash && !(emptyHashes && noHash(x.request_id))
          ? { body_hash: x.body_hash }
          : emptyHashes
            ? { body_hash: '' }
            : {}),
        flags: x.flags,
      }),
    )
    .join('\n');
}
