/**
 * A/A traps: healthy candidates that real telemetry makes look bad — lost
 * records, empty hashes, a cold start that lasts 20 s, history that no
 * longer describes the service, a service that always fails 1–3 % of its
 * requests. Each is an A/A run at 100 mirrored requests/s; none may be
 * rolled back.
 */
import { makeScenario, type Scenario, type ServiceProfile } from './generator.js';
import { between, rng } from './rng.js';

export type TrapKind =
  | 'aa_loss_3pct'
  | 'aa_empty_hashes'
  | 'aa_cold_20s'
  | 'aa_stale_bodies'
  | 'aa_stale_errors'
  | 'aa_noisy_errors';

export const TRAP_KINDS: readonly TrapKind[] = [
  'aa_loss_3pct',
  'aa_empty_hashes',
  'aa_cold_20s',
  'aa_stale_bodies',
  'aa_stale_errors',
  'aa_noisy_errors',
];

/**
 * The service whose history trains the model a trap is judged with. Stale
 * history is the profile as it was; a service that always failed 1–3 % has
 * a history that says so.
 */
export function trapHistory(kind: TrapKind, profile: ServiceProfile): ServiceProfile {
  return kind === 'aa_noisy_errors' ? noisyProfile(profile) : profile;
}

/**
 * The profile with every endpoint failing 1–3 % of its requests, in both
 * versions alike; drawn from the profile itself, so every run of a profile
 * (and its history) describes the same service.
 */
export function noisyProfile(profile: ServiceProfile): ServiceProfile {
  const r = rng(profile.endpoints.reduce((h, e) => Math.imul(h, 31) + e.medianUs, 0x1f3d5b79));
  return {
    ...profile,
    endpoints: profile.endpoints.map((e) => ({ ...e, baseErrorRate: between(r, 0.01, 0.03) })),
  };
}

/**
 * The trap of `kind` for a service whose history is `profile` (the model is
 * trained on that); the run itself may describe a service that changed.
 */
export function makeTrap(kind: TrapKind, profile: ServiceProfile, seed: number): Scenario {
  const s = makeScenario('aa', profile, 100, seed);
  const r = rng(seed ^ 0x2545f491);
  switch (kind) {
    case 'aa_loss_3pct':
      s.lossRate = 0.03;
      break;
    case 'aa_empty_hashes':
      s.emptyHashes = true;
      break;
    case 'aa_cold_20s':
      // Slower by 50–100 % at first, as fast as production from 20 s on.
      s.coldFactor = between(r, 0.5, 1);
      s.coldUntilS = 20;
      break;
    case 'aa_stale_bodies':
      // Responses now carry a timestamp, in both versions alike.
      s.profile = { ...profile, endpoints: profile.endpoints.map((e) => ({ ...e, dynamicBody: true })) };
      break;
    case 'aa_stale_errors':
      // Production's own failures are now 10–30× what history saw (at least 0.5 %), in both versions alike.
      s.profile = {
        ...profile,
        endpoints: profile.endpoints.map((e) => ({
          ...e,
          baseErrorRate: Math.min(0.05, Math.max(0.005, e.baseErrorRate * between(r, 10, 30))),
        })),
      };
      break;
    case 'aa_noisy_errors':
      // Production always failed 1–3 % of requests, and history says so; both versions alike.
      s.profile = noisyProfile(profile);
      break;
  }
  return s;
}
