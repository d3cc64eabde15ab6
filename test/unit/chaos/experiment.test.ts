/**
 * The chaos model: faults as written, what is refused before anything starts
 * (with its path or its reason), and the verdict on a tally of seconds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyPaired, type PairedCounts } from '../../../daemon/aggregate/stats.js';
import { type ChaosRequest, startRefusals } from '../../../daemon/chaos/experiment.js';
import { dependencyFaults, describeFault, parseFault } from '../../../daemon/chaos/fault.js';
import { chaosVerdict, emptyTally } from '../../../daemon/chaos/verdict.js';
import { parseConfig } from '../../../daemon/config/load.js';
import { defaultModel } from '../../../daemon/model/model.js';

const shop = (() => {
  const r = parseConfig(`
services:
  - name: shop
    stable: v1
    egress: 127.0.0.1:15001
    dependencies: { db: '127.0.0.1:7000' }
    provisioner: { kind: process, versions: { v1: { command: [a] }, v2: { command: [b] } } }
`);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config.services[0]!;
})();

const request = (over: Partial<ChaosRequest> = {}): ChaosRequest => ({
  service: 'shop',
  version: 'v2',
  faults: [{ kind: 'delay', dependency: 'db', ms: 200, percent: 100 }],
  durationMs: 30_000,
  percentage: 50,
  onRegression: 'report',
  ...over,
});

test('faults as written: delays, aborts with a share, replica loss; the rest refused with the flag', () => {
  assert.deepEqual(parseFault('db:delay=200ms', '--fault[0]'), {
    fault: { kind: 'delay', dependency: 'db', ms: 200, percent: 100 },
  });
  assert.deepEqual(parseFault('db:abort=503@5%', '--fault[1]'), {
    fault: { kind: 'abort', dependency: 'db', status: 503, percent: 5 },
  });
  assert.deepEqual(parseFault('lose-replica=1', '--fault[2]'), {
    fault: { kind: 'lose-replica', replicas: 1 },
  });
  assert.match(
    (parseFault('db:abort=700', '--fault[0]') as { error: string }).error,
    /^--fault\[0\]: abort must be/,
  );
  assert.match(
    (parseFault('db:jitter=1', '--fault[3]') as { error: string }).error,
    /^--fault\[3\]: must be DEP:/,
  );
  assert.match((parseFault('db:delay=2h', '--fault[0]') as { error: string }).error, /1ms to 30s/);
  assert.equal(
    describeFault({ kind: 'abort', dependency: 'db', status: 503, percent: 5 }),
    'db:abort=503@5%',
  );
  assert.deepEqual(
    dependencyFaults([
      { kind: 'delay', dependency: 'db', ms: 200, percent: 100 },
      { kind: 'lose-replica', replicas: 1 },
    ]),
    [{ dependency: 'db', percent: 100, delayMs: 200 }],
  );
});

test('a fault on an unknown dependency is refused with its path', () => {
  const errors = startRefusals(
    request({ faults: [{ kind: 'abort', dependency: 'cache', status: 503, percent: 100 }] }),
    shop,
    null,
    undefined,
  );
  assert.deepEqual(errors, ["faults[0]: unknown dependency 'cache' (declared: db)"]);
});

test('an experiment on a service with a deployment in progress is refused with the reason', () => {
  const errors = startRefusals(request(), shop, { id: 'd7', version: 'v3', phase: 'shadowing' }, undefined);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /^service: shop has deployment d7 of v3 in progress \(shadowing\)/);
  assert.deepEqual(startRefusals(request(), shop, null, undefined), []);
  assert.deepEqual(startRefusals(request({ version: 'v9' }), shop, null, undefined), [
    "version: shop has no version 'v9' (configured: v1, v2)",
  ]);
});

/** Counts of `pairs` mirrored requests of which `failedOnly` failed on the shadow arm alone, with `growth` × latency. */
function arm(pairs: number, failedOnly: number, growth: number): PairedCounts {
  const p = emptyPaired();
  p.pairs = pairs;
  p.shadowFailed = failedOnly;
  p.errShadowOnly = failedOnly;
  p.latPairs = pairs - failedOnly;
  p.latPrimarySumUs = p.latPairs * 10_000;
  p.latDeltaSumUs = p.latPrimarySumUs * (growth - 1);
  return p;
}

const verdictOf = (candidate: PairedCounts, baseline: PairedCounts, withBaseline = true) => {
  const t = emptyTally();
  t.candidate = candidate;
  t.baseline = baseline;
  t.byEndpoint.set('/cart', { candidate, baseline });
  return chaosVerdict(t, {
    candidate: 'v2',
    baseline: withBaseline ? 'v1' : null,
    faults: 'db:abort=503@20%',
    mixture: defaultModel().params.signMixture,
  });
};

test('a candidate that lost its retry fails where the baseline retries: a resilience regression, named', () => {
  const v = verdictOf(arm(1000, 200, 1.1), arm(1000, 8, 1.1));

  assert.equal(v.regression, true);
  assert.equal(v.culprit, '/cart/errors');
  assert.equal(v.reference, 'baseline');
  assert.ok(v.errorScore > 10, `score ${v.errorScore}`);
  assert.match(v.explanation, /^resilience regression at \/cart\/errors/);
  assert.match(v.explanation, /v2 fails 20\.0 % of requests where v1 fails 0\.8 %/);
});

test('equal resilience is no regression; a slower candidate under the same delay is one', () => {
  const same = verdictOf(arm(1000, 10, 3), arm(1000, 12, 3));
  const slower = verdictOf(arm(1000, 0, 3.1), arm(1000, 0, 1.2));

  assert.equal(same.regression, false);
  assert.equal(same.culprit, null);
  assert.equal(slower.regression, true);
  assert.equal(slower.culprit, '/cart/latency');
  assert.match(slower.explanation, /v2's latency grows 3\.1× where v1's grows 1\.2×/);
});

test('with nothing paired under the faults, no verdict is claimed', () => {
  const v = verdictOf(emptyPaired(), emptyPaired());
  assert.equal(v.regression, false);
  assert.match(v.explanation, /^no verdict/);
});

test('resets as written: reset:P%@DEP or DEP:reset[@P%]; they ride on xDS to the reset listener', () => {
  assert.deepEqual(parseFault('reset:30%@db', '--fault[0]'), {
    fault: { kind: 'reset', dependency: 'db', percent: 30 },
  });
  assert.deepEqual(parseFault('db:reset', '--fault[0]'), {
    fault: { kind: 'reset', dependency: 'db', percent: 100 },
  });
  assert.deepEqual(parseFault('reset:0%@db', '--fault[1]'), {
    error: '--fault[1]: the share must be above 0 and at most 100%',
  });
  assert.equal(describeFault({ kind: 'reset', dependency: 'db', percent: 30 }), 'reset:30%@db');
  const sink = { address: '127.0.0.1', port: 7999 };
  assert.deepEqual(dependencyFaults([{ kind: 'reset', dependency: 'db', percent: 30 }], sink), [
    { dependency: 'db', percent: 30, reset: sink },
  ]);
  assert.throws(() => dependencyFaults([{ kind: 'reset', dependency: 'db', percent: 30 }]), /reset sink/);
  assert.deepEqual(
    startRefusals(
      request({ faults: [{ kind: 'reset', dependency: 'cache', percent: 5 }] }),
      shop,
      null,
      undefined,
    ),
    ["faults[0]: unknown dependency 'cache' (declared: db)"],
  );
});
