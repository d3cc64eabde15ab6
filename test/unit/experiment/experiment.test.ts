import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { experimentAnswer } from '../../../daemon/experiment/answer.js';
import { ExperimentRunner, type GuardWarmup } from '../../../daemon/experiment/runner.js';
import {
  busyReason,
  EXPERIMENT_DEFAULTS,
  type ExperimentSpec,
  experimentSpecErrors,
  type ServiceFacts,
} from '../../../daemon/experiment/spec.js';
import { ExperimentTally, type SplitRecord } from '../../../daemon/experiment/tally.js';
import { defaultModel } from '../../../daemon/model/model.js';
import { rng } from '../judge/sim.js';

const RATE = defaultModel().params.rateMixture;
const FACTS: ServiceFacts = { versions: ['v1', 'v2'], stable: 'v1', endpoints: ['/cart', '/checkout', '/'] };

function spec(over: Partial<ExperimentSpec> = {}): ExperimentSpec {
  return {
    service: 'shop',
    version: 'v2',
    split: 50,
    outcome: { kind: 'conversion', path: '/checkout' },
    ...EXPERIMENT_DEFAULTS,
    windowMs: 10_000,
    ...over,
  };
}

describe('an experiment is checked before it starts', () => {
  it('accepts a valid one', () => {
    assert.deepEqual(experimentSpecErrors(spec(), FACTS), []);
    const header = spec({ outcome: { kind: 'header', header: 'x-outcome', max: 1 } });
    assert.deepEqual(experimentSpecErrors(header, FACTS), []);
  });

  it('refuses a split outside 0–100 with its path', () => {
    for (const split of [0, 100, -5, 150, Number.NaN])
      assert.match(
        experimentSpecErrors(spec({ split }), FACTS).join(),
        /^split: must be a number between 0 and 100/,
      );
  });

  it('refuses an outcome path that matches nothing the service serves, naming it', () => {
    const errors = experimentSpecErrors(spec({ outcome: { kind: 'conversion', path: '/chekout' } }), FACTS);
    assert.deepEqual(errors, [
      'outcome.path: /chekout matches nothing shop serves (seen: /cart, /checkout, /)',
    ]);
    assert.match(
      experimentSpecErrors(spec({ outcome: { kind: 'conversion', path: 'checkout' } }), FACTS)[0]!,
      /^outcome.path: must start with/,
    );
  });

  it('refuses the stable version as B, and an unknown version', () => {
    assert.match(
      experimentSpecErrors(spec({ version: 'v1' }), FACTS)[0]!,
      /^version: v1 is the stable version/,
    );
    assert.match(
      experimentSpecErrors(spec({ version: 'v9' }), FACTS)[0]!,
      /^version: shop has no version v9/,
    );
  });

  it('refuses a service with a deployment in progress, with the reason', () => {
    assert.equal(
      busyReason('shop', { id: 'shop-v3-1', phase: 'shadowing' }, null),
      'shop has deployment shop-v3-1 in progress (shadowing); start the experiment after it ends',
    );
    assert.equal(busyReason('shop', null, null), null);
  });
});

/** Users arriving over `seconds`, each with a few requests; B's users convert with pB. */
function feed(
  t: { add(r: SplitRecord): void; tick?(now: number): unknown },
  o: { seconds: number; usersPerSecond: number; pA: number; pB: number; seed: number },
): void {
  const r = rng(o.seed);
  let user = 1;
  for (let s = 0; s < o.seconds; s++) {
    for (let u = 0; u < o.usersPerSecond; u++, user++) {
      const arm = r() < 0.5 ? 'B' : 'A';
      const at = s * 1000 + Math.floor(r() * 1000);
      t.add({ arm, user, atMs: at, endpoint: '/cart', failed: false, latencyUs: 1000 });
      if (r() < (arm === 'B' ? o.pB : o.pA))
        t.add({ arm, user, atMs: at + 2000, endpoint: '/checkout', failed: false, latencyUs: 1000 });
    }
    t.tick?.(s * 1000);
  }
}

/** The answer after 300 s of 40 new users a second converting with pA and pB, every window closed. */
function answerAfterFiveMinutes(pA: number, pB: number, seed: number) {
  const s = spec();
  const tally = new ExperimentTally(s);
  feed(tally, { seconds: 300, usersPerSecond: 40, pA, pB, seed });
  tally.close(400_000);
  return experimentAnswer(s, tally);
}

describe('the answer', () => {
  it('counts each user once, after their window, and finds a B that converts 5 points better', () => {
    const a = answerAfterFiveMinutes(0.1, 0.15, 3);
    assert.equal(a.users.A + a.users.B, 300 * 40);
    assert.equal(a.winner, 'B');
    assert.ok(a.ci[0] > 0 && a.ci[0] < 0.05 && a.ci[1] > 0.05, `ci ${a.ci}`);
    assert.ok(Math.abs(a.effect - 0.05) < 0.02, `effect ${a.effect}`);
  });

  it('an A/A split declares nothing', () => {
    const a = answerAfterFiveMinutes(0.1, 0.1, 4);
    assert.equal(a.winner, null);
    assert.ok(a.ci[0] < 0 && a.ci[1] > 0);
  });

  it('a user seen in both arms is dropped, not counted, and a header outcome is summed and capped', () => {
    const s = spec({ outcome: { kind: 'header', header: 'x-outcome', max: 2 } });
    const tally = new ExperimentTally(s);
    const base = { endpoint: '/', failed: false, latencyUs: 1 };
    tally.add({ ...base, arm: 'A', user: 1, atMs: 0 });
    tally.add({ ...base, arm: 'B', user: 1, atMs: 10 });
    tally.add({ ...base, arm: 'B', user: 2, atMs: 0, outcome: 1.5 });
    tally.add({ ...base, arm: 'B', user: 2, atMs: 5, outcome: 1.5 });
    tally.add({ ...base, arm: 'B', user: 2, atMs: 20_000, outcome: 9 });
    tally.close(11_000);
    assert.deepEqual(tally.dropped, { switched: 1, overCap: 0, restart: 0 });
    assert.deepEqual(tally.arms.B, { n: 1, sum: 1 });
    assert.equal(experimentAnswer(s, tally).means.B, 2);
    // The user left out stays out: back later, on either version, they are not a new user;
    // a finished user's observation stays as it was.
    tally.add({ ...base, arm: 'A', user: 1, atMs: 12_000 });
    tally.add({ ...base, arm: 'A', user: 2, atMs: 12_000 });
    tally.close(30_000);
    assert.deepEqual(tally.arms, { A: { n: 0, sum: 0 }, B: { n: 1, sum: 1 } });
    assert.deepEqual(tally.dropped, { switched: 1, overCap: 0, restart: 0 });
  });
});

describe('the guard', () => {
  function run(
    failB: number,
    seed: number,
    seconds = 120,
    slowB = 1,
    coldSeconds = 0,
    warmup?: GuardWarmup,
  ): { stoppedAt: number; score: number; signal?: string } {
    const runner = new ExperimentRunner(spec({ split: 20 }), RATE, 3, undefined, warmup);
    const r = rng(seed);
    let user = 1;
    for (let s = 0; s < seconds; s++) {
      for (let i = 0; i < 100; i++, user++) {
        const arm = r() < 0.2 ? 'B' : 'A';
        const failed = r() < (arm === 'B' ? failB : 0.01);
        const cold = arm === 'B' && s < coldSeconds ? 4 : 1;
        const latencyUs = (1000 + r() * 500) * (arm === 'B' ? slowB : 1) * cold;
        runner.add({ arm, user, atMs: s * 1000, endpoint: '/', failed, latencyUs });
      }
      const { guard } = runner.tick(s * 1000 + 999);
      if (guard.stop) return { stoppedAt: s, score: guard.score, signal: guard.signal };
    }
    return { stoppedAt: -1, score: runner.latest()!.guard.score };
  }

  it('stops a B that fails 10 % of its requests where A fails 1 %, within seconds', () => {
    const { stoppedAt } = run(0.1, 1);
    assert.ok(stoppedAt >= 0 && stoppedAt < 20, `stopped at ${stoppedAt}`);
  });

  it('stops a B four times as slow as A (beyond the 1.1 × p95 + 2 ms margin), naming latency', () => {
    const { stoppedAt, signal } = run(0.01, 2, 120, 4);
    assert.ok(stoppedAt >= 0 && stoppedAt < 30, `stopped at ${stoppedAt}`);
    assert.equal(signal, 'latency');
  });

  it("leaves a B as good as A running through its instances' cold start (latency warm-up)", () => {
    // Arrange: B four times as slow for its first 3 s (a fresh pool), then as A.
    for (let seed = 0; seed < 10; seed++) {
      assert.equal(run(0.01, 300 + seed, 60, 1, 3).stoppedAt, -1, `seed ${seed}`);
      // Control: without the warm-up the same cold start stops B.
      const noWarmup = run(0.01, 300 + seed, 60, 1, 3, { errorsMs: 0, latencyMs: 0 });
      assert.ok(
        noWarmup.stoppedAt >= 0 && noWarmup.signal === 'latency',
        `seed ${seed}: ${JSON.stringify(noWarmup)}`,
      );
    }
  });

  it('leaves a B as good as A running', () => {
    let stopped = 0;
    for (let seed = 0; seed < 20; seed++) if (run(0.01, 100 + seed, 60).stoppedAt >= 0) stopped++;
    assert.equal(stopped, 0);
  });
});
