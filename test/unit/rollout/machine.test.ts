import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { desiredEffects } from '../../../daemon/rollout/desired.js';
import { begin, step } from '../../../daemon/rollout/machine.js';
import type { Effect, RouteEffect } from '../../../daemon/rollout/types.js';
import { ev, kinds, plan, promotingAt, run, shadowing, started, T0 } from './fixtures.js';

const routeOf = (effects: Effect[]) => effects.find((e): e is RouteEffect => e.kind === 'route');

describe('rollout machine: the forward path, phase by phase', () => {
  test('a good version goes provisioning → shadowing → each step → baking → completed', () => {
    // begin: provisioning; the candidate is started at shadow size; all traffic stays on v1.
    const b = begin({
      id: 'd1',
      service: 'checkout',
      version: 'v2',
      previousVersion: 'v1',
      plan: plan(),
      at: T0,
    });
    assert.equal(b.state.phase, 'provisioning');
    assert.deepEqual(b.state.deadline, { timer: 'provision_timeout', atMs: T0 + 90_000 });
    assert.deepEqual(b.effects, [
      { kind: 'route', service: 'checkout', weights: { v1: 100 }, mirror: null, filter: false },
      { kind: 'provision', service: 'checkout', version: 'v2', pool: 'main', replicas: 1 },
    ]);

    // The candidate is healthy: shadowing, mirroring 10% to v2, users still on v1.
    let r = step(b.state, ev.provisioned('v2', 1, T0 + 1000));
    assert.equal(r.state.phase, 'shadowing');
    assert.deepEqual(r.state.deadline, { timer: 'shadow_end', atMs: T0 + 61_000 });
    assert.deepEqual(routeOf(r.effects), {
      kind: 'route',
      service: 'checkout',
      weights: { v1: 100 },
      mirror: { target: 'v2', baseline: null, percentage: 10 },
      filter: true,
    });
    assert.deepEqual(kinds(r), ['provision', 'route', 'control:percentage', 'control:resume']);

    // A healthy verdict is recorded without effects or a phase change.
    r = step(r.state, ev.verdict('healthy', T0 + 30_000));
    assert.equal(r.state.phase, 'shadowing');
    assert.equal(r.state.lastVerdict?.verdict, 'healthy');
    assert.deepEqual(r.effects, []);
    assert.equal(r.reason, undefined);

    // The shadow hold ends healthy: step 1 at 10%, candidate scaled to production size before the route.
    r = step(r.state, ev.timer('shadow_end', T0 + 61_000));
    assert.equal(r.state.phase, 'promoting');
    assert.equal(r.state.candidateWeight, 10);
    assert.equal(r.state.lastVerdict, null, 'each step is judged afresh');
    // Steps are judged on live records: mirroring goes off (paused at 0 %) first.
    assert.deepEqual(kinds(r), ['control:pause', 'control:percentage', 'provision', 'route']);
    assert.deepEqual(r.effects[2], {
      kind: 'provision',
      service: 'checkout',
      version: 'v2',
      pool: 'main',
      replicas: 4,
    });
    assert.deepEqual(routeOf(r.effects)?.weights, { v1: 90, v2: 10 });
    assert.equal(routeOf(r.effects)?.filter, true, 'live records of both versions judge a step');

    // Step 2 (50%) and step 3 (100%), each after a healthy hold.
    r = run(r.state, ev.verdict('healthy', T0 + 70_000), ev.timer('step_end', T0 + 91_000));
    assert.deepEqual(routeOf(r.effects)?.weights, { v1: 50, v2: 50 });
    r = run(r.state, ev.verdict('healthy', T0 + 100_000), ev.timer('step_end', T0 + 121_000));
    assert.equal(r.state.stepIndex, 2);
    assert.deepEqual(routeOf(r.effects)?.weights, { v2: 100 });

    // After the last step: baking, v1 kept warm at production size as the mirror target.
    r = run(r.state, ev.verdict('healthy', T0 + 130_000), ev.timer('step_end', T0 + 151_000));
    assert.equal(r.state.phase, 'baking');
    assert.deepEqual(routeOf(r.effects)?.mirror, { target: 'v1', baseline: null, percentage: 10 });
    assert.equal(routeOf(r.effects)?.filter, true);
    assert.ok(r.effects.some((e) => e.kind === 'provision' && e.version === 'v1' && e.replicas === 4));

    // Bake ends: completed, mirroring off, v1 stopped, an info alert.
    r = step(r.state, ev.timer('bake_end', T0 + 211_000));
    assert.equal(r.state.phase, 'completed');
    assert.equal(r.state.deadline, null);
    assert.deepEqual(kinds(r), ['control:pause', 'control:percentage', 'route', 'deprovision', 'alert']);
    assert.deepEqual(r.effects[3], { kind: 'deprovision', service: 'checkout', version: 'v1', pool: 'main' });
    assert.equal(routeOf(r.effects)?.filter, false, 'no deployment in progress: the filter is off');
  });

  test('with a baseline, shadowing waits for both pools and mirrors to both', () => {
    // begin: the baseline (v1, candidate-sized) is provisioned alongside the candidate.
    const s = started({ baseline: true, shadowReplicas: 2 });
    assert.deepEqual(
      desiredEffects(s).filter((e) => e.kind === 'provision'),
      [
        { kind: 'provision', service: 'checkout', version: 'v2', pool: 'main', replicas: 2 },
        { kind: 'provision', service: 'checkout', version: 'v1', pool: 'baseline', replicas: 2 },
      ],
    );
    // One ready replica of two is not ready.
    let r = step(s, ev.provisioned('v2', 1, T0 + 500));
    assert.equal(r.state.ready.candidate, false);
    // The candidate alone is not enough.
    r = step(r.state, ev.provisioned('v2', 2, T0 + 1000));
    assert.equal(r.state.phase, 'provisioning');
    assert.equal(r.state.ready.candidate, true);
    // The baseline too: shadowing mirrors to v2 and to the v1 baseline.
    r = step(r.state, ev.provisioned('v1', 2, T0 + 2000, 'baseline'));
    assert.equal(r.state.phase, 'shadowing');
    assert.deepEqual(routeOf(r.effects)?.mirror, { target: 'v2', baseline: 'v1', percentage: 10 });
    // Promoting stops the baseline.
    r = run(r.state, ev.verdict('healthy', T0 + 3000), ev.timer('shadow_end', T0 + 62_000));
    assert.ok(r.effects.some((e) => e.kind === 'deprovision' && e.pool === 'baseline'));
  });

  test('a hold without a healthy verdict is extended, then the rollout pauses itself and alerts', () => {
    // Shadowing with only insufficient evidence.
    let r = run(shadowing(), ev.verdict('insufficient', T0 + 30_000));
    // First hold end: extended by one hold (1/2).
    r = step(r.state, ev.timer('shadow_end', T0 + 61_000));
    assert.equal(r.state.phase, 'shadowing');
    assert.equal(r.state.extensions, 1);
    assert.deepEqual(r.state.deadline, { timer: 'shadow_end', atMs: T0 + 121_000 });
    assert.match(r.reason ?? '', /hold extended: not enough evidence \(1\/2\)/);
    // Second: extended again (2/2).
    r = step(r.state, ev.timer('shadow_end', T0 + 121_000));
    assert.equal(r.state.extensions, 2);
    // Third: paused automatically, mirroring paused, a warning alert, no timer.
    r = step(r.state, ev.timer('shadow_end', T0 + 181_000));
    assert.equal(r.state.paused?.auto, true);
    assert.equal(r.state.deadline, null);
    assert.ok(kinds(r).includes('control:pause'));
    assert.equal(r.effects.at(-1)?.kind, 'alert');
    // Resume starts a fresh full hold with the extension count reset.
    r = step(r.state, ev.command('resume', T0 + 200_000));
    assert.equal(r.state.paused, null);
    assert.equal(r.state.extensions, 0);
    assert.deepEqual(r.state.deadline, { timer: 'shadow_end', atMs: T0 + 260_000 });
  });

  test('stale and early timers change nothing', () => {
    const s = shadowing();
    // A timer that is not the armed one.
    assert.equal(step(s, ev.timer('step_end', T0 + 61_000)).state, s);
    // The armed timer, but before its deadline.
    assert.equal(step(s, ev.timer('shadow_end', T0 + 60_999)).state, s);
  });
});

describe('rollout machine: automatic rollback and validation', () => {
  test('a rollback verdict in shadowing rolls back, validates and ends rolled_back', () => {
    // The judge finds the candidate worse while shadowing.
    let r = step(shadowing(), ev.verdict('rollback', T0 + 20_000));
    assert.equal(r.state.phase, 'rolling_back');
    assert.equal(r.state.rollback?.from, 'shadowing');
    assert.equal(r.state.rollback?.decisionId, 7);
    assert.match(
      r.state.rollback?.reason ?? '',
      /judge: anomaly score 3\.40 ≥ 3 \(GET \/pay eu-west errors\)/,
    );
    assert.deepEqual(r.state.deadline, { timer: 'capacity_timeout', atMs: T0 + 65_000 });
    // Mirroring stops first, then routing without a mirror, then v1's capacity is ensured; a warning alert.
    assert.deepEqual(kinds(r), ['control:pause', 'control:percentage', 'route', 'provision', 'alert']);
    assert.equal(routeOf(r.effects)?.mirror, null);
    // v1 reports full capacity: validating, v2 stopped.
    r = step(r.state, ev.provisioned('v1', 4, T0 + 21_000));
    assert.equal(r.state.phase, 'validating');
    assert.deepEqual(r.state.deadline, { timer: 'validation_end', atMs: T0 + 141_000 });
    assert.ok(r.effects.some((e) => e.kind === 'deprovision' && e.version === 'v2'));
    // Verdicts about the candidate no longer count; verdicts about the restored version do.
    assert.equal(step(r.state, ev.verdict('rollback', T0 + 30_000, 'candidate')).state, r.state);
    r = step(r.state, ev.verdict('healthy', T0 + 40_000, 'restored'));
    assert.equal(r.state.lastVerdict?.verdict, 'healthy');
    // The validation period ends: rolled_back, mirroring stays off, info alert.
    r = step(r.state, ev.timer('validation_end', T0 + 141_000));
    assert.equal(r.state.phase, 'rolled_back');
    assert.deepEqual(kinds(r), ['control:pause', 'control:percentage', 'route', 'deprovision', 'alert']);
  });

  test('rolling back from 50% shifts traffic back at the pace of v1 capacity', () => {
    // At step 2 (50%), a rollback verdict arrives.
    const { state, at } = promotingAt(1);
    assert.equal(state.candidateWeight, 50);
    let r = step(state, ev.verdict('rollback', at + 5000));
    // Weights stay until v1's capacity is known.
    assert.deepEqual(routeOf(r.effects)?.weights, { v1: 50, v2: 50 });
    // v1 has 3 of 4 replicas: v1 may take 75%.
    r = step(r.state, ev.provisioned('v1', 3, at + 6000));
    assert.equal(r.state.phase, 'rolling_back');
    assert.deepEqual(routeOf(r.effects)?.weights, { v1: 75, v2: 25 });
    // A lower report never moves traffic back toward the candidate.
    const lower = step(r.state, ev.provisioned('v1', 1, at + 6500));
    assert.equal(lower.state.candidateWeight, 25);
    assert.deepEqual(lower.effects, []);
    // All 4 ready: 100% on v1, validating.
    r = step(r.state, ev.provisioned('v1', 4, at + 7000));
    assert.equal(r.state.phase, 'validating');
    assert.deepEqual(routeOf(r.effects)?.weights, { v1: 100 });
  });

  test('a rollback verdict in baking rolls back from 100%', () => {
    // Baking: v2 at 100%.
    let { state, at } = promotingAt(2);
    state = run(state, ev.verdict('healthy', at + 1000), ev.timer('step_end', at + 30_000)).state;
    assert.equal(state.phase, 'baking');
    // The reverse shadow shows v2 is worse.
    const r = step(state, ev.verdict('rollback', at + 40_000));
    assert.equal(r.state.phase, 'rolling_back');
    assert.equal(r.state.rollback?.from, 'baking');
    assert.deepEqual(routeOf(r.effects)?.weights, { v2: 100 });
  });

  test('the restored version failing validation ends in rollback_failed, which holds', () => {
    // Rolled back to validating.
    let r = run(shadowing(), ev.verdict('rollback', T0 + 20_000), ev.provisioned('v1', 4, T0 + 21_000));
    // The restored version is worse than its own history.
    r = step(r.state, ev.verdict('rollback', T0 + 50_000, 'restored'));
    assert.equal(r.state.phase, 'rollback_failed');
    assert.equal(r.state.deadline, null);
    const alert = r.effects.find((e) => e.kind === 'alert');
    assert.equal(alert?.kind === 'alert' && alert.severity, 'critical');
    // Holding: nothing moves it any more (never flap).
    for (const e of [
      ev.verdict('healthy', T0 + 60_000, 'restored'),
      ev.timer('validation_end', T0 + 200_000),
      ev.provisioned('v1', 4, T0 + 60_000),
    ]) {
      assert.equal(step(r.state, e).state, r.state);
    }
    assert.match(step(r.state, ev.command('resume', T0 + 61_000)).refused ?? '', /is rollback_failed/);
  });

  test('the previous version not regaining capacity in time ends in rollback_failed', () => {
    let r = step(shadowing(), ev.command('rollback', T0 + 5000));
    r = step(r.state, ev.timer('capacity_timeout', T0 + 50_000));
    assert.equal(r.state.phase, 'rollback_failed');
    assert.match(r.state.lastError ?? '', /v1 did not regain capacity within 45s/);
  });

  test('the candidate not becoming ready rolls back (timeout, or a failed provision)', () => {
    // Timeout.
    let r = step(started(), ev.timer('provision_timeout', T0 + 90_000));
    assert.equal(r.state.phase, 'rolling_back');
    assert.match(r.state.rollback?.reason ?? '', /candidate not ready within 90s/);
    // Failure reported by the provisioner.
    r = step(started(), { type: 'effect_failed', effect: 'provision', error: 'exit code 1', at: T0 + 100 });
    assert.equal(r.state.phase, 'rolling_back');
    assert.equal(r.state.lastError, 'provision: exit code 1');
  });

  test('a refused route (xDS NACK) holds the rollout and alerts', () => {
    const r = step(shadowing(), {
      type: 'effect_failed',
      effect: 'route',
      error: 'NACK: bad cluster',
      at: T0 + 2000,
    });
    assert.equal(r.state.phase, 'shadowing');
    assert.equal(r.state.paused?.auto, true);
    assert.equal(r.state.paused?.remainingMs, 59_000);
    assert.equal(r.effects.at(-1)?.kind, 'alert');
  });

  test('verdicts while provisioning are ignored; a rollback verdict acts even while paused', () => {
    const s = started();
    assert.equal(step(s, ev.verdict('rollback', T0 + 10)).state, s);
    const paused = step(shadowing(), ev.command('pause', T0 + 2000)).state;
    assert.equal(step(paused, ev.verdict('rollback', T0 + 3000)).state.phase, 'rolling_back');
  });
});

describe('rollout machine: manual commands', () => {
  test('promote: shadowing → step 1, step → next step, baking → completed; refused elsewhere', () => {
    // From shadowing, promote skips the rest of the shadow hold.
    let r = step(shadowing(), ev.command('promote', T0 + 5000, 'looks good'));
    assert.equal(r.state.phase, 'promoting');
    assert.equal(r.state.candidateWeight, 10);
    assert.match(r.reason ?? '', /operator promote \(looks good\)/);
    // From a step, to the next.
    r = step(r.state, ev.command('promote', T0 + 6000));
    assert.equal(r.state.candidateWeight, 50);
    r = run(r.state, ev.command('promote', T0 + 7000), ev.command('promote', T0 + 8000));
    assert.equal(r.state.phase, 'baking');
    r = step(r.state, ev.command('promote', T0 + 9000));
    assert.equal(r.state.phase, 'completed');
    // Refused in provisioning, while paused, during a rollback, and when final.
    assert.match(step(started(), ev.command('promote', T0)).refused ?? '', /still provisioning/);
    const paused = step(shadowing(), ev.command('pause', T0 + 2000)).state;
    assert.match(step(paused, ev.command('promote', T0 + 3000)).refused ?? '', /paused .*; resume it first/);
    const back = step(shadowing(), ev.command('rollback', T0 + 2000)).state;
    assert.match(step(back, ev.command('promote', T0 + 3000)).refused ?? '', /a rollback cannot be promoted/);
    assert.match(
      step(r.state, ev.command('promote', T0 + 10_000)).refused ?? '',
      /is completed; nothing to promote/,
    );
  });

  test('rollback: from every forward phase; refused while rolling back and when final', () => {
    for (const s of [started(), shadowing(), promotingAt(1).state]) {
      const r = step(s, ev.command('rollback', T0 + 500_000, 'bad dashboards'));
      assert.equal(r.state.phase, 'rolling_back', `from ${s.phase}`);
      assert.equal(r.state.rollback?.reason, 'operator rollback (bad dashboards)');
    }
    const back = step(shadowing(), ev.command('rollback', T0 + 2000));
    const refused = step(back.state, ev.command('rollback', T0 + 3000));
    assert.equal(refused.state, back.state);
    assert.deepEqual(refused.effects, []);
    assert.equal(refused.refused, 'checkout is already rolling_back');
    const done = step(promotingAt(0).state, ev.command('abort', T0 + 200_000)).state;
    assert.match(
      step(done, ev.command('rollback', T0 + 300_000)).refused ?? '',
      /is aborted; nothing to rollback/,
    );
  });

  test('rollback after completion is refused with the way back', () => {
    let r = step(shadowing(), ev.command('promote', T0 + 2000));
    for (let i = 0; i < 4; i++) r = step(r.state, ev.command('promote', T0 + 3000 + i));
    assert.equal(r.state.phase, 'completed');
    assert.equal(
      step(r.state, ev.command('rollback', T0 + 9000)).refused,
      'deployment d1 is completed; deploy v1 to go back',
    );
  });

  test('pause keeps the remaining hold; resume re-arms it; timers while paused are stale', () => {
    // Paused 20s into a 60s shadow hold.
    let r = step(shadowing(), ev.command('pause', T0 + 21_000));
    assert.deepEqual(r.state.paused, {
      at: T0 + 21_000,
      reason: 'operator pause',
      remainingMs: 40_000,
      auto: false,
    });
    assert.equal(r.state.deadline, null);
    assert.ok(kinds(r).includes('control:pause'));
    // The old timer firing now does nothing.
    assert.equal(step(r.state, ev.timer('shadow_end', T0 + 61_000)).state, r.state);
    // Pausing twice is refused.
    assert.equal(step(r.state, ev.command('pause', T0 + 22_000)).refused, 'checkout is already paused');
    // Resume 100s later: the 40s that were left.
    r = step(r.state, ev.command('resume', T0 + 121_000));
    assert.deepEqual(r.state.deadline, { timer: 'shadow_end', atMs: T0 + 161_000 });
    assert.ok(kinds(r).includes('control:resume'));
    // Resume when not paused is refused.
    assert.equal(step(r.state, ev.command('resume', T0 + 122_000)).refused, 'checkout is not paused');
  });

  test('pause in provisioning holds the move to shadowing until resume', () => {
    let r = step(started(), ev.command('pause', T0 + 100));
    r = step(r.state, ev.provisioned('v2', 1, T0 + 200));
    assert.equal(r.state.phase, 'provisioning');
    assert.equal(r.state.ready.candidate, true);
    r = step(r.state, ev.command('resume', T0 + 300));
    assert.equal(r.state.phase, 'shadowing');
  });

  test('pause and abort are refused during a rollback', () => {
    const back = step(shadowing(), ev.command('rollback', T0 + 2000)).state;
    assert.equal(
      step(back, ev.command('pause', T0 + 3000)).refused,
      'checkout is rolling_back; a rollback cannot be paused',
    );
    assert.equal(
      step(back, ev.command('abort', T0 + 3000)).refused,
      'checkout is rolling_back; a rollback cannot be aborted',
    );
  });

  test('abort sends all traffic straight back to the previous version and stops the candidate', () => {
    const { state } = promotingAt(1);
    const r = step(state, ev.command('abort', T0 + 200_000));
    assert.equal(r.state.phase, 'aborted');
    assert.equal(r.state.candidateWeight, 0);
    assert.deepEqual(routeOf(r.effects), {
      kind: 'route',
      service: 'checkout',
      weights: { v1: 100 },
      mirror: null,
      filter: false,
    });
    assert.ok(r.effects.some((e) => e.kind === 'deprovision' && e.version === 'v2'));
    assert.match(
      step(r.state, ev.command('abort', T0 + 200_001)).refused ?? '',
      /is aborted; nothing to abort/,
    );
  });
});

describe('rollout machine: persistence and restart', () => {
  test('a state survives JSON and the restarted machine re-issues the same effects', () => {
    // A deployment at step 2, persisted as JSON (what the store does).
    const { state } = promotingAt(1);
    const restored: typeof state = JSON.parse(JSON.stringify(state));
    const deadline = restored.deadline!.atMs;
    assert.deepEqual(restored, state);
    // Re-issuing desired effects after a restart gives the world it had.
    assert.deepEqual(desiredEffects(restored), desiredEffects(state));
    // The persisted deadline still drives it: the step ends on time.
    const r = run(restored, ev.verdict('healthy', deadline - 1), ev.timer('step_end', deadline));
    assert.equal(r.state.candidateWeight, 100);
  });

  test('events are pure: the input state is never mutated', () => {
    const s = shadowing();
    const copy = structuredClone(s);
    step(s, ev.verdict('rollback', T0 + 5000));
    step(s, ev.command('pause', T0 + 5000));
    assert.deepEqual(s, copy);
  });
});

describe('rollout machine: pools of a fixed size (a static version has its configured endpoints)', () => {
  test('shadowing starts when every replica a fixed-size pool can have is ready, not before', () => {
    // The plan wants 3 shadow replicas; the static candidate has 2 endpoints.
    const s = started({ shadowReplicas: 3 });
    const one = step(s, ev.provisioned('v2', 1, T0 + 1000, 'main', 2));
    assert.equal(one.state.phase, 'provisioning', '1 of the 2 it can have');
    const both = step(s, ev.provisioned('v2', 2, T0 + 1000, 'main', 2));
    assert.equal(both.state.phase, 'shadowing');
    // A pool that can grow (desired = the plan's size) still needs all 3.
    const growing = step(s, ev.provisioned('v2', 2, T0 + 1000, 'main', 3));
    assert.equal(growing.state.phase, 'provisioning');
    // Events without a size (stored by an older daemon) keep the plan's rule.
    assert.equal(step(s, ev.provisioned('v2', 2, T0 + 1000)).state.phase, 'provisioning');
    assert.equal(step(s, ev.provisioned('v2', 3, T0 + 1000)).state.phase, 'shadowing');
  });

  test('a rollback completes when every replica the restored fixed-size pool has is ready', () => {
    // At 50 %, rollback; v1 is static with 2 endpoints although the plan says 4.
    const { state, at } = promotingAt(1);
    let r = step(state, ev.verdict('rollback', at + 5000));
    r = step(r.state, ev.provisioned('v1', 1, at + 6000, 'main', 2));
    assert.equal(r.state.phase, 'rolling_back');
    assert.equal(r.state.candidateWeight, 50, 'half its capacity: v1 may take its 50 % back, no more');
    assert.equal(routeOf(r.effects), undefined);
    r = step(r.state, ev.provisioned('v1', 2, at + 7000, 'main', 2));
    assert.equal(r.state.phase, 'validating');
    assert.deepEqual(routeOf(r.effects)?.weights, { v1: 100 });
  });
});
