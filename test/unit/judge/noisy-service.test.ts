import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeScenario } from '../../../bench/scenarios/generator.js';
import { benchProfile, replayScenario, replayTrap } from './replay-trap.js';

describe('judge without history: a service that always fails 1-3 % in both versions', () => {
  // Service svc3 of `bench:judge --seed 2` with every endpoint failing 1.1-1.4 % in both versions, A/A run
  // 2000571 at 100 mirrored requests/s, replayed as `umbra replay FILE` does (no history). In its first
  // 12 s the primary arm failed alone 5 times in 664 pairs where 13 were expected, the candidate 14 times;
  // the built-in floor (0.5 %) blended with the primary arm's 0.75 % put the floor at 0.73 %, and the
  // service's errors_recent bet against a healthy candidate until it was rolled back at 12 s.
  it('does not roll back A/A run 2000571 while the primary arm happens to fail less than its rate', () => {
    const base = benchProfile(2, 3);
    const rates: Record<string, number> = {
      'GET /orders': 0.0121,
      'GET /user/profile': 0.0143,
      'GET /search': 0.0106,
      'GET /recommendations': 0.012,
      'HEAD /health': 0.0127,
    };
    const profile = {
      ...base,
      endpoints: base.endpoints.map((e) => ({ ...e, baseErrorRate: rates[e.name] ?? e.baseErrorRate })),
    };
    const rb = replayScenario(makeScenario('aa', profile, 100, 2_000_571));
    assert.equal(rb, null, `rolled back: ${JSON.stringify(rb)}`);
  });

  // The trap itself: `node --import tsx bench/judge.ts --only aa_noisy_errors --seed 4`, run 4000007 without
  // history, was rolled back at 11 s on the errors of segment eu.
  it('does not roll back the A/A trap run 4000007 (bench seed 4) of aa_noisy_errors', () => {
    const rb = replayTrap('aa_noisy_errors', 4, 4_000_007);
    assert.equal(rb, null, `rolled back: ${JSON.stringify(rb)}`);
  });
});
