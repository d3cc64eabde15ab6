/**
 * `umbra chaos start --watch`: when it stops polling and how it exits, over a
 * fake admin client that reports the experiment phase by phase.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChaosExperimentView } from '../../../daemon/admin/chaos-api.js';
import { watchChaos, watchExit } from '../../../daemon/cli/commands/chaos.js';

function experiment(phase: string, regression: boolean | undefined): ChaosExperimentView {
  return {
    service: 'shop',
    version: 'v4',
    baseline: 'v1',
    faults: ['inventory:abort=503@30%'],
    durationMs: 60_000,
    percentage: 10,
    onRegression: 'fail',
    phase,
    startedAtMs: 1,
    faultsOnAtMs: 2,
    endedAtMs: 3,
    reason: '',
    ...(regression === undefined
      ? {}
      : {
          verdict: { regression, explanation: regression ? 'resilience regression' : 'held up' },
        }),
  } as ChaosExperimentView;
}

/** A client that answers these phases in turn, and fails the test if polled past the last. */
function client(phases: ChaosExperimentView[]) {
  let i = 0;
  return {
    polls: () => i,
    chaosStatus: async () => {
      const e = phases[i++];
      if (!e) throw new Error('polled after the experiment ended');
      return [e];
    },
  };
}

describe('chaos start --watch', () => {
  it('stops at an interrupted run as at any ended one', async () => {
    // Arrange: injecting, then closed as interrupted after a daemon restart.
    const c = client([experiment('injecting', false), experiment('interrupted', true)]);

    // Act
    const e = await watchChaos(c, 'shop', 1);

    // Assert
    assert.equal(e.phase, 'interrupted');
    assert.equal(c.polls(), 2);
  });

  it('exits 3 for a failed run, and for an interrupted one with a regression under --fail-on-regression', () => {
    assert.equal(watchExit(experiment('failed', true), true), 3);
    assert.equal(watchExit(experiment('interrupted', true), true), 3);
    assert.equal(watchExit(experiment('interrupted', true), false), 0, 'reported only');
    assert.equal(watchExit(experiment('interrupted', false), true), 0);
    assert.equal(watchExit(experiment('passed', false), true), 0);
    assert.equal(watchExit(experiment('stopped', true), true), 0);
  });
});
