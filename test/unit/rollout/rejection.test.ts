/**
 * A proxy refusing configuration (xDS NACK), step by step: it holds a
 * forward rollout and alerts at once, with the proxy's own error; it never
 * rolls a candidate back and never fails a rollback; it is lifted when that
 * proxy accepts a later version of the same type.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { step } from '../../../daemon/rollout/machine.js';
import { MemoryDeploymentRepo } from '../../../daemon/rollout/memory-repo.js';
import { RolloutScheduler } from '../../../daemon/rollout/scheduler.js';
import type { DeploymentState, Effect, RolloutEvent } from '../../../daemon/rollout/types.js';
import { ev, kinds, plan, run, shadowing, started, T0 } from './fixtures.js';
import { ManualClock, RecordingRunner } from './scheduler-fixtures.js';

const MESSAGE =
  'Error adding/updating listener(s) checkout-ingress: umbra: config: shadowTimeoutMs: must be 1..600000';

const rejected = (at: number, version = 'lds-1', node = 'edge-1'): RolloutEvent => ({
  type: 'rejected',
  rejection: { node, type: 'LDS', version, resources: ['checkout-ingress'], message: MESSAGE },
  at,
});
const accepted = (at: number, version: string, node = 'edge-1'): RolloutEvent => ({
  type: 'accepted',
  node,
  xdsType: 'LDS',
  version,
  at,
});
const alertOf = (effects: Effect[]) => effects.find((e) => e.kind === 'alert');

describe('rollout machine: a proxy refusing configuration holds the rollout', () => {
  test('shadowing: held with the proxy error, alerted at once; lifted when the proxy accepts a later version', () => {
    // Shadowing with 60 s of hold; the proxy refuses the listener 20 s in.
    const s = shadowing();
    let r = step(s, rejected(T0 + 21_000));
    // Held: an automatic pause, no deadline, mirroring paused, the refusal kept with its attribution.
    assert.equal(r.state.phase, 'shadowing');
    assert.equal(r.state.deadline, null);
    assert.equal(r.state.paused?.auto, true);
    assert.match(
      r.state.paused?.reason ?? '',
      /^held: proxy edge-1 refused LDS lds-1 \(checkout-ingress\): Error adding/,
    );
    assert.deepEqual(r.state.rejection, {
      node: 'edge-1',
      type: 'LDS',
      version: 'lds-1',
      resources: ['checkout-ingress'],
      message: MESSAGE,
      at: T0 + 21_000,
    });
    assert.match(r.reason ?? '', /shadowTimeoutMs: must be 1\.\.600000/, 'the audit log has Envoy’s error');
    assert.ok(kinds(r).includes('control:pause'));
    // The alert is this step's first effect (sent now, before any routing effect can stall), critical, keyed by version.
    assert.equal(r.effects[0]?.kind, 'alert');
    const alert = alertOf(r.effects);
    assert.equal(alert?.kind === 'alert' && alert.severity, 'critical');
    assert.equal(alert?.kind === 'alert' && alert.key, 'd1:rejected:edge-1:LDS:lds-1');
    assert.match(alert?.kind === 'alert' ? alert.message : '', /rollout held/);

    // The same refusal again (another stream): nothing new.
    assert.equal(step(r.state, rejected(T0 + 22_000)).state, r.state);
    // While held: promote and resume are refused; the old shadow_end timer is stale.
    assert.match(step(r.state, ev.command('promote', T0 + 23_000)).refused ?? '', /paused/);
    assert.match(step(r.state, ev.command('resume', T0 + 23_000)).refused ?? '', /still refuses LDS lds-1/);
    assert.equal(step(r.state, ev.timer('shadow_end', T0 + 61_000)).state, r.state);
    // An acceptance by another proxy, or of another type, does not clear it.
    assert.equal(step(r.state, accepted(T0 + 24_000, 'lds-2', 'edge-2')).state, r.state);
    assert.equal(
      step(r.state, { ...accepted(T0 + 24_000, 'cds-2'), xdsType: 'CDS' } as RolloutEvent).state,
      r.state,
    );

    // The proxy accepts the listener it should have now: cleared, the hold is lifted and starts afresh.
    r = step(r.state, accepted(T0 + 30_000, 'lds-2'));
    assert.equal(r.state.rejection, null);
    assert.equal(r.state.paused, null);
    assert.deepEqual(r.state.deadline, { timer: 'shadow_end', atMs: T0 + 90_000 });
    assert.ok(kinds(r).includes('control:resume'));
  });

  test('provisioning: held; a ready candidate and the provision timeout neither advance nor roll back', () => {
    let r = step(started(), rejected(T0 + 1000));
    assert.equal(r.state.paused?.auto, true);
    // The candidate becomes ready: it stays in provisioning (held), not shadowing.
    r = step(r.state, ev.provisioned('v2', 1, T0 + 2000));
    assert.equal(r.state.phase, 'provisioning');
    assert.equal(r.state.ready.candidate, true);
    // The provision timeout was disarmed by the hold: it is stale, no rollback.
    assert.equal(step(r.state, ev.timer('provision_timeout', T0 + 90_000)).state, r.state);
    // Accepted later: the hold lifts and the ready candidate goes to shadowing.
    r = step(r.state, accepted(T0 + 95_000, 'lds-2'));
    assert.equal(r.state.phase, 'shadowing');
  });

  test('an operator pause is kept as it is; the refusal is still recorded and alerted', () => {
    const paused = step(shadowing(), ev.command('pause', T0 + 5000)).state;
    const r = step(paused, rejected(T0 + 6000));
    assert.deepEqual(r.state.paused, paused.paused);
    assert.equal(r.state.rejection?.version, 'lds-1');
    assert.ok(alertOf(r.effects));
    // Accepted later: cleared, and the operator's pause stays.
    const c = step(r.state, accepted(T0 + 7000, 'lds-2'));
    assert.equal(c.state.rejection, null);
    assert.deepEqual(c.state.paused, paused.paused);
  });

  test('while rolling back: recorded and alerted, the rollback goes on and ends rolled_back', () => {
    let r = step(shadowing(), ev.verdict('rollback', T0 + 20_000));
    r = step(r.state, rejected(T0 + 20_500));
    assert.equal(r.state.phase, 'rolling_back');
    assert.equal(r.state.paused, null, 'a rollback is never held');
    assert.deepEqual(kinds(r), ['alert']);
    assert.match(alertOf(r.effects)?.kind === 'alert' ? alertOf(r.effects)!.message : '', /rollback goes on/);
    r = run(r.state, ev.provisioned('v1', 4, T0 + 21_000), ev.timer('validation_end', T0 + 141_000));
    assert.equal(r.state.phase, 'rolled_back');
  });

  test('final phases ignore refusals; a state persisted before refusals existed takes one', () => {
    const aborted = step(shadowing(), ev.command('abort', T0 + 5000)).state;
    assert.equal(step(aborted, rejected(T0 + 6000)).state, aborted);
    const old = JSON.parse(JSON.stringify(shadowing())) as DeploymentState;
    delete old.rejection;
    assert.equal(step(old, rejected(T0 + 6000)).state.paused?.auto, true);
  });
});

describe('rollout scheduler: a refusal that stands when a deployment begins', () => {
  test('the new deployment is held from its first step, and persisted held', async () => {
    const repo = new MemoryDeploymentRepo();
    const clock = new ManualClock(T0);
    const standing = rejected(T0);
    const scheduler = new RolloutScheduler({
      repo,
      runner: new RecordingRunner(),
      clock,
      standing: (service) =>
        service === 'checkout' && standing.type === 'rejected'
          ? [{ type: 'rejected', rejection: standing.rejection }]
          : [],
    });
    scheduler.start();
    const d = scheduler.deploy({ service: 'checkout', version: 'v2', previousVersion: 'v1', plan: plan() });
    await scheduler.idle();
    const stored = repo.get(d.id)!;
    assert.equal(stored.phase, 'provisioning');
    assert.equal(stored.paused?.auto, true);
    assert.equal(stored.rejection?.version, 'lds-1');
    // The provision timeout never fires a rollback while held.
    clock.advance(200_000);
    await scheduler.idle();
    assert.equal(repo.get(d.id)?.phase, 'provisioning');
    await scheduler.stop();
  });
});
