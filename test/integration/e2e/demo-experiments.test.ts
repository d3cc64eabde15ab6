/**
 * `npm run demo -- --experiments`, exactly as it runs: after the story, a
 * chaos experiment on shop v4 (no retry on its inventory dependency) with
 * 30 % of the shadow leg's inventory calls failed. Production must not feel
 * it (no user error, answers byte-identical); v4's resilience regression must
 * be found and named.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { runDemo } from './demo-run.js';

test('demo --experiments: chaos on the shadow leg finds the lost retry, production untouched; an A/A split declares nothing', {
  timeout: 720_000,
}, async () => {
  const { code, out } = await runDemo(['--experiments'], 660_000);
  const lines = out.trim().split('\n');
  assert.equal(code, 0, `demo failed:\n${out.slice(-4000)}`);
  const result = JSON.parse(lines[lines.length - 1] ?? '') as {
    experiments: string;
    chaos: { production_errors: number; resilience_regression: boolean; culprit: string | null };
    ab: { aa_winner: string | null; users: { A: number; B: number }; aa_users: { A: number; B: number } };
  };

  assert.equal(result.experiments, 'done');
  assert.equal(result.chaos.production_errors, 0, out.slice(-4000));
  assert.equal(result.chaos.resilience_regression, true, out.slice(-4000));
  assert.equal(result.chaos.culprit, '/cart/errors');
  // The A/B half: both arms got users, and the A/A split (same code on both sides) names no winner.
  assert.ok(result.ab.users.A > 0 && result.ab.users.B > 0, JSON.stringify(result.ab));
  assert.ok(result.ab.aa_users.A > 0 && result.ab.aa_users.B > 0, JSON.stringify(result.ab));
  assert.equal(result.ab.aa_winner, null, JSON.stringify(result.ab));
  // The story before it still ran to its end.
  assert.match(lines[lines.length - 2] ?? '', /^\{"demo":"done"/);
});
