/**
 * Mirroring is on only while a phase needs copies: shadowing (the candidate)
 * and baking (the previous version, reverse shadow). Every way a deployment
 * ends, and a restart into a final phase, turns it off: the filters are
 * paused at 0 % and no mirror target is routed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { desiredEffects } from '../../../daemon/rollout/desired.js';
import { step } from '../../../daemon/rollout/machine.js';
import type { DeploymentState, Effect, RouteEffect, StepResult } from '../../../daemon/rollout/types.js';
import { ev, promotingAt, run, shadowing, T0 } from './fixtures.js';

/** The filter's control state after a batch of effects, starting from mirroring at `pct` %. */
function controlAfter(effects: Effect[], pct = 10): { paused: boolean; percentage: number } {
  const c = { paused: false, percentage: pct };
  for (const e of effects) {
    if (e.kind !== 'control') continue;
    if (e.action === 'percentage') c.percentage = e.percentage;
    else c.paused = e.action === 'pause';
  }
  return c;
}

function mirrorOf(r: StepResult | Effect[]): RouteEffect['mirror'] | undefined {
  const effects = Array.isArray(r) ? r : r.effects;
  return effects.find((e): e is RouteEffect => e.kind === 'route')?.mirror;
}

function assertOff(effects: Effect[], where: string): void {
  assert.deepEqual(controlAfter(effects), { paused: true, percentage: 0 }, `${where}: filters paused at 0 %`);
  assert.equal(mirrorOf(effects), null, `${where}: no mirror target routed`);
}

describe('rollout machine: mirroring off whenever no deployment needs it', () => {
  test('shadowing mirrors to the candidate; each step goes live-only with mirroring off', () => {
    // Shadowing: copies go to v2 at the plan's share, filters live.
    const s = shadowing();
    assert.deepEqual(controlAfter(desiredEffects(s), 0), { paused: false, percentage: 10 });
    assert.deepEqual(mirrorOf(desiredEffects(s)), { target: 'v2', baseline: null, percentage: 10 });
    // Step 1: judged on live records; mirroring off before the candidate takes weight.
    const r = run(s, ev.verdict('healthy', T0 + 10_000), ev.timer('shadow_end', T0 + 61_000));
    assert.equal(r.state.phase, 'promoting');
    assertOff(r.effects, 'promoting');
  });

  test('completed: mirroring off, not aimed at the version now serving', () => {
    // Baking mirrors to v1 (reverse shadow).
    const { state, at } = promotingAt(2);
    let r = run(state, ev.verdict('healthy', at + 1000), ev.timer('step_end', at + 30_000));
    assert.equal(r.state.phase, 'baking');
    assert.deepEqual(controlAfter(r.effects, 0), { paused: false, percentage: 10 });
    // The bake ends: completed, v2 serves, and nothing mirrors.
    r = step(r.state, ev.timer('bake_end', at + 90_000));
    assert.equal(r.state.phase, 'completed');
    assertOff(r.effects, 'completed');
  });

  test('aborted: mirroring off', () => {
    const r = step(shadowing(), ev.command('abort', T0 + 5000));
    assert.equal(r.state.phase, 'aborted');
    assertOff(r.effects, 'aborted');
  });

  test('rolled_back and rollback_failed: mirroring off from rolling_back on, and it stays off', () => {
    // A rollback verdict: mirroring off at once.
    let r = step(shadowing(), ev.verdict('rollback', T0 + 20_000));
    assertOff(r.effects, 'rolling_back');
    // v1 back at full size: validating.
    r = step(r.state, ev.provisioned('v1', 4, T0 + 21_000));
    assertOff(r.effects, 'validating');
    const validating = r.state;
    // Validation passes: rolled_back keeps mirroring off (it used to resume it).
    r = step(validating, ev.timer('validation_end', T0 + 141_000));
    assert.equal(r.state.phase, 'rolled_back');
    assertOff(r.effects, 'rolled_back');
    // Validation fails: rollback_failed, also off.
    r = step(validating, ev.verdict('rollback', T0 + 60_000, 'restored'));
    assert.equal(r.state.phase, 'rollback_failed');
    assertOff(r.effects, 'rollback_failed');
  });

  test('a restarted daemon re-issues mirroring off for a deployment that ended', () => {
    // The scheduler re-runs desiredEffects of each service's latest deployment at start.
    const ended: DeploymentState[] = [
      step(shadowing(), ev.command('abort', T0 + 5000)).state,
      run(shadowing(), ev.verdict('rollback', T0 + 1), ev.provisioned('v1', 4, T0 + 2)).state,
    ];
    for (const s of ended) {
      const restored = JSON.parse(JSON.stringify(s)) as DeploymentState;
      assertOff(desiredEffects(restored), `restart in ${s.phase}`);
    }
  });
});
