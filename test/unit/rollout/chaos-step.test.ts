/**
 * The chaos step of a rollout, stepped through the machine: a gate at the
 * end of shadowing whose faults ride on a `faults` effect, whose window
 * opens when they are on, and whose verdict fails the deployment only with
 * `failOn: resilience`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAULTS_ON_GRACE_MS } from '../../../daemon/rollout/chaos-step.js';
import { step } from '../../../daemon/rollout/machine.js';
import type {
  ChaosStepPlan,
  DeploymentState,
  Effect,
  RolloutEvent,
  RolloutPlan,
} from '../../../daemon/rollout/types.js';
import { ev, run, shadowing, T0 } from './fixtures.js';

const ABORT = { kind: 'abort' as const, dependency: 'db', status: 503, percent: 30 };
const DELAY = { kind: 'delay' as const, dependency: 'db', ms: 200, percent: 100 };

const chaos = (failOn: ChaosStepPlan['failOn'], n = 1): Partial<RolloutPlan> => ({
  chaos: {
    failOn,
    experiments: [
      { faults: [ABORT], durationMs: 20_000 },
      { faults: [DELAY], durationMs: 10_000 },
    ].slice(0, n),
  },
});

const faultsOf = (effects: Effect[]) => effects.filter((e) => e.kind === 'faults');

const verdict = (experiment: number, regression: boolean, at: number, pairs = 400): RolloutEvent => ({
  type: 'chaos_verdict',
  experiment,
  faults: 'db:abort=503@30%',
  regression,
  culprit: regression ? '/cart/errors' : null,
  pairs,
  explanation: regression
    ? 'resilience regression at /cart/errors (error evidence 10^5.0): under db:abort=503@30%, …'
    : 'no resilience regression found (error evidence 10^0.1): under db:abort=503@30%, …',
  at,
});

/** Shadowing judged healthy at its end (T0 + 61 s): the chaos step begins. */
function inGate(over: Partial<RolloutPlan>): { state: DeploymentState; effects: Effect[]; at: number } {
  const at = T0 + 61_000;
  const r = run(shadowing(over), ev.verdict('healthy', T0 + 30_000), ev.timer('shadow_end', at));
  return { state: r.state, effects: r.effects, at };
}

/** The experiment's faults are on 2 s after it began; then its verdict, then its end. */
function ended(failOn: ChaosStepPlan['failOn'], regression: boolean) {
  const g = inGate(chaos(failOn));
  const on = g.at + 2000;
  return run(
    g.state,
    { type: 'faults_on', experiment: 0, at: on },
    verdict(0, regression, on + 15_000),
    ev.timer('chaos_end', on + 20_000),
  );
}

describe('rollout machine: the chaos step', () => {
  test('a healthy end of shadowing enters the step: still shadowing, faults on, window armed once they are', () => {
    const g = inGate(chaos('report'));
    assert.equal(g.state.phase, 'shadowing', 'users still never see the candidate');
    assert.equal(g.state.candidateWeight, 0);
    assert.deepEqual(g.state.chaos, {
      experiment: 0,
      faultsOnAt: null,
      verdict: null,
      results: [],
      done: false,
    });
    assert.deepEqual(g.state.deadline, { timer: 'chaos_end', atMs: g.at + FAULTS_ON_GRACE_MS + 20_000 });
    assert.deepEqual(faultsOf(g.effects), [
      { kind: 'faults', service: 'checkout', experiment: 0, faults: [ABORT] },
    ]);
    assert.equal(g.effects.at(-1)?.kind, 'faults', 'faults go on after the copies flow');

    const on = step(g.state, { type: 'faults_on', experiment: 0, at: g.at + 2000 });
    assert.equal(on.state.chaos?.faultsOnAt, g.at + 2000);
    assert.deepEqual(on.state.deadline, { timer: 'chaos_end', atMs: g.at + 22_000 });
    assert.deepEqual(on.effects, []);
  });

  test('inside the step the judge is not heard: it measures the faults, not the version', () => {
    const g = inGate(chaos('resilience'));
    const r = step(g.state, ev.verdict('rollback', g.at + 5000));
    assert.equal(r.state, g.state);
  });

  test('failOn resilience: a resilience regression rolls back, naming the fault and the culprit', () => {
    const r = ended('resilience', true);
    assert.equal(r.state.phase, 'rolling_back');
    assert.match(
      r.state.rollback!.reason,
      /chaos experiment 1 \(db:abort=503@30%\): resilience regression at \/cart\/errors/,
    );
    assert.deepEqual(faultsOf(r.effects), [
      { kind: 'faults', service: 'checkout', experiment: null, faults: [] },
    ]);
    assert.equal(r.effects[0]?.kind, 'faults', 'faults are lifted first');
    assert.equal(r.state.chaos?.results.length, 1);
  });

  test('report only: the same regression is reported and the rollout goes on to its first step', () => {
    const r = ended('report', true);
    assert.equal(r.state.phase, 'promoting');
    assert.equal(r.state.candidateWeight, 10);
    assert.match(r.reason!, /chaos step done: .*resilience regression at \/cart\/errors.*\(reported\)/);
    assert.equal(r.state.chaos?.done, true);
    assert.equal(r.state.chaos?.results[0]?.regression, true);
    assert.deepEqual(faultsOf(r.effects), [
      { kind: 'faults', service: 'checkout', experiment: null, faults: [] },
    ]);
  });

  test('failOn resilience and no regression: the step passes', () => {
    assert.equal(ended('resilience', false).state.phase, 'promoting');
  });

  test('experiments run one after the other; the next one waits for its own faults', () => {
    const g = inGate(chaos('resilience', 2));
    const on = g.at + 1000;
    const r = run(
      g.state,
      { type: 'faults_on', experiment: 0, at: on },
      verdict(0, false, on + 10_000),
      ev.timer('chaos_end', on + 20_000),
    );
    assert.equal(r.state.phase, 'shadowing');
    assert.equal(r.state.chaos?.experiment, 1);
    assert.equal(r.state.chaos?.faultsOnAt, null);
    assert.deepEqual(faultsOf(r.effects), [
      { kind: 'faults', service: 'checkout', experiment: 1, faults: [DELAY] },
    ]);
    // A verdict of the first experiment arriving late counts for nothing.
    assert.equal(step(r.state, verdict(0, true, on + 21_000)).state, r.state);
  });

  test('an experiment that saw no pair pauses the rollout (missing data is not evidence); resume runs it again', () => {
    const g = inGate(chaos('resilience'));
    const on = g.at + 1000;
    const r = run(
      g.state,
      { type: 'faults_on', experiment: 0, at: on },
      verdict(0, false, on + 5000, 0),
      ev.timer('chaos_end', on + 20_000),
    );
    assert.equal(r.state.phase, 'shadowing');
    assert.ok(r.state.paused?.auto);
    assert.match(r.state.paused!.reason, /saw no paired request/);
    assert.deepEqual(
      faultsOf(r.effects),
      [{ kind: 'faults', service: 'checkout', experiment: null, faults: [] }],
      'a pause lifts the faults',
    );

    const resumed = step(r.state, ev.command('resume', on + 30_000));
    assert.equal(resumed.state.paused, null);
    assert.deepEqual(resumed.state.chaos?.faultsOnAt, null);
    assert.equal(resumed.state.deadline?.timer, 'chaos_end');
    assert.equal(faultsOf(resumed.effects)[0]?.experiment, 0);
  });

  test('a daemon restart inside the step runs its experiment again (its tally was in memory)', () => {
    const g = inGate(chaos('resilience'));
    const s = run(
      g.state,
      { type: 'faults_on', experiment: 0, at: g.at + 1000 },
      verdict(0, true, g.at + 6000),
    ).state;
    const r = step(s, { type: 'restarted', catchUpMs: 10_000, at: g.at + 9000 });
    assert.equal(r.state.chaos?.faultsOnAt, null);
    assert.equal(r.state.chaos?.verdict, null);
    assert.equal(faultsOf(r.effects)[0]?.experiment, 0);
  });

  test('a plan without a chaos step advances at the end of shadowing and emits no faults effect', () => {
    const g = inGate({});
    assert.equal(g.state.phase, 'promoting');
    assert.deepEqual(faultsOf(g.effects), []);
  });
});
