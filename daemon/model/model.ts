/**
 * The judge's trained model: per-endpoint noise floors learned from A/A
 * history, the mixing distributions of the sequential tests, and the
 * correction that A/A replay measured. A model is a plain, versioned,
 * JSON-serialisable value; nothing here touches time or I/O.
 *
 * Ownership: a Model is immutable once built; the judge only reads it.
 */

/** Noise observed for one endpoint (or the default for endpoints never seen). */
export interface NoiseFloor {
  /** Paired requests the figures come from (0 for the built-in defaults). */
  pairs: number;
  /** Per-pair rate of "this arm failed, the other did not" in A/A (one direction). */
  discordantErrorRate: number;
  /** Per-pair failure rate of the primary arm. */
  primaryErrorRate: number;
  /** Per-pair rate of differing statuses in A/A, not counting pairs where exactly one arm failed. */
  statusMismatchRate: number;
  /** Per-pair rate of differing bodies (same status) in A/A; 1 means "bodies are not comparable". */
  bodyMismatchRate: number;
}

/** One atom of a discrete mixing distribution. */
export interface MixtureAtom {
  /** The alternative: a probability in (½, 1) for sign tests, an odds multiplier > 1 for rate tests. */
  x: number;
  /** Prior weight; the weights of a mixture sum to 1. */
  w: number;
}

export interface ModelParams {
  /** Learned floors by endpoint name. */
  floors: Record<string, NoiseFloor>;
  /** Floor used for endpoints without history. */
  defaultFloor: NoiseFloor;
  /** Multiplier (≥ 1) applied to learned rates, set by A/A replay when bursts break independence. */
  floorInflation: number;
  /** How many pairs a learned floor counts for when blended with the live primary arm. */
  priorStrength: number;
  /** Mixing distribution over the alternative p of the paired sign tests (errors, latency). */
  signMixture: MixtureAtom[];
  /** Mixing distribution over the odds multiplier of the rate tests (errors vs floor, mismatches). */
  rateMixture: MixtureAtom[];
}

/** What a model was trained on (for audit; the judge ignores it). */
export interface TrainedOn {
  /** Healthy (A/A or good deploy) runs and their paired requests. */
  healthyRuns: number;
  healthyPairs: number;
  /** Runs labelled as regressions whose effect sizes tuned the mixtures. */
  regressionRuns: number;
  /** Where the history came from (file names, deployment ids). */
  sources: string[];
  /** A/A replay with the final model: runs replayed, runs that would have rolled back, at which threshold. */
  falseAlarms: { runs: number; rollbacks: number; threshold: number; maxScores: number[] };
  /** Overdispersion of per-second discordant error counts (1 = Poisson). */
  dispersion: number;
}

export interface Model {
  /** 0 for the built-in defaults; the store assigns 1, 2, … to trained models. */
  version: number;
  params: ModelParams;
  trainedOn: TrainedOn | null;
}

/** Sign-test alternatives: from small shifts (p = 0.55) to near-certain ones. */
const DEFAULT_SIGN_ALTERNATIVES = [0.55, 0.6, 0.68, 0.78, 0.88, 0.95];
/** Rate-test odds multipliers: from +50 % to 60× the floor. */
const DEFAULT_RATE_MULTIPLIERS = [1.5, 2.5, 4, 8, 16, 32, 64];

function uniform(xs: number[]): MixtureAtom[] {
  return xs.map((x) => ({ x, w: 1 / xs.length }));
}

/**
 * The untrained model. Its default floor is deliberately conservative: a
 * discordant error rate of 0.5 % blended with the live primary arm, a status
 * mismatch floor of 2 %, and body comparison switched off (rate 1), because
 * without history or a baseline arm nothing tells a changed body from a
 * dynamic one (timestamps, ids).
 */
export function defaultModel(): Model {
  return {
    version: 0,
    params: {
      floors: {},
      defaultFloor: {
        pairs: 0,
        discordantErrorRate: 0.005,
        primaryErrorRate: 0.005,
        statusMismatchRate: 0.02,
        bodyMismatchRate: 1,
      },
      floorInflation: 1,
      priorStrength: 200,
      signMixture: uniform(DEFAULT_SIGN_ALTERNATIVES),
      rateMixture: uniform(DEFAULT_RATE_MULTIPLIERS),
    },
    trainedOn: null,
  };
}

/**
 * Whether this is the built-in model: nothing was ever trained into it. A model
 * trained on files (`umbra replay --history`) keeps version 0 (it is not saved)
 * but says what it was trained on.
 */
export function isBuiltIn(model: Model): boolean {
  return model.version === 0 && model.trainedOn === null;
}

/** The floor for an endpoint: learned if any, else the default. */
export function floorFor(model: Model, endpoint: string): NoiseFloor {
  return model.params.floors[endpoint] ?? model.params.defaultFloor;
}

/** A validation problem with the path of the offending field. */
export interface ModelError {
  path: string;
  message: string;
}

function checkRate(v: unknown, path: string, errors: ModelError[]): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
    errors.push({ path, message: 'must be a number 0..1' });
  }
}

function checkFloor(f: unknown, path: string, errors: ModelError[]): void {
  if (typeof f !== 'object' || f === null) {
    errors.push({ path, message: 'must be an object' });
    return;
  }
  const o = f as Record<string, unknown>;
  if (typeof o['pairs'] !== 'number' || !(o['pairs'] >= 0))
    errors.push({ path: `${path}.pairs`, message: 'must be ≥ 0' });
  for (const k of ['discordantErrorRate', 'primaryErrorRate', 'statusMismatchRate', 'bodyMismatchRate']) {
    checkRate(o[k], `${path}.${k}`, errors);
  }
}

function checkMixture(m: unknown, path: string, lo: number, hi: number, errors: ModelError[]): void {
  if (!Array.isArray(m) || m.length === 0) {
    errors.push({ path, message: 'must be a non-empty array' });
    return;
  }
  let sum = 0;
  m.forEach((a: unknown, i) => {
    const o = (a ?? {}) as Record<string, unknown>;
    const x = o['x'];
    const w = o['w'];
    if (typeof x !== 'number' || !(x > lo && x < hi))
      errors.push({ path: `${path}[${i}].x`, message: `must be in (${lo}, ${hi})` });
    if (typeof w !== 'number' || !(w >= 0)) errors.push({ path: `${path}[${i}].w`, message: 'must be ≥ 0' });
    else sum += w;
  });
  if (Math.abs(sum - 1) > 1e-6) errors.push({ path, message: `weights must sum to 1 (got ${sum})` });
}

/**
 * Checks a model read from JSON (the store or a file). Returns the model or
 * every problem found, each with its path (`params.floors["GET /a"].pairs`).
 */
export function parseModel(input: unknown): { model: Model } | { errors: ModelError[] } {
  const errors: ModelError[] = [];
  if (typeof input !== 'object' || input === null)
    return { errors: [{ path: '', message: 'must be an object' }] };
  const o = input as Record<string, unknown>;
  if (typeof o['version'] !== 'number' || !Number.isInteger(o['version']) || o['version'] < 0) {
    errors.push({ path: 'version', message: 'must be a whole number ≥ 0' });
  }
  const p = o['params'] as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null) {
    errors.push({ path: 'params', message: 'must be an object' });
    return { errors };
  }
  const floors = p['floors'];
  if (typeof floors !== 'object' || floors === null)
    errors.push({ path: 'params.floors', message: 'must be an object' });
  else
    for (const [k, f] of Object.entries(floors)) checkFloor(f, `params.floors[${JSON.stringify(k)}]`, errors);
  checkFloor(p['defaultFloor'], 'params.defaultFloor', errors);
  if (typeof p['floorInflation'] !== 'number' || !(p['floorInflation'] >= 1)) {
    errors.push({ path: 'params.floorInflation', message: 'must be ≥ 1' });
  }
  if (typeof p['priorStrength'] !== 'number' || !(p['priorStrength'] >= 0)) {
    errors.push({ path: 'params.priorStrength', message: 'must be ≥ 0' });
  }
  checkMixture(p['signMixture'], 'params.signMixture', 0.5, 1, errors);
  checkMixture(p['rateMixture'], 'params.rateMixture', 1, Number.POSITIVE_INFINITY, errors);
  if (errors.length > 0) return { errors };
  return {
    model: {
      version: o['version'] as number,
      params: p as unknown as ModelParams,
      trainedOn: (o['trainedOn'] as TrainedOn) ?? null,
    },
  };
}

/** JSON text of a model (stable key order as built). */
export function serializeModel(model: Model): string {
  return JSON.stringify(model);
}
