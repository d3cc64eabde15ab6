/**
 * What enters the Umbra filter for a service's route, and what the filter
 * then mirrors of it, so that the end result is what the user configured:
 * p % of eligible requests mirrored, L % of all requests a live record.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterGatePlan, liveSampleEvery } from '../../../daemon/controller/filter-gate.js';
import { desiredRouting } from '../../../daemon/controller/routing.js';
import { checkoutConfig } from './fixtures.js';

const mirroring = (lines: string) => `    mirroring:\n${lines}`;

test('no phase needing the filter: no gate, whatever the mirror share', () => {
  const s = checkoutConfig().services[0]!;

  const plan = filterGatePlan(s, { filter: false, mirrorPercentage: 10 });

  assert.equal(plan.gate, undefined);
  assert.equal(plan.insidePercentage(10), 0);
});

test('random: p + L % enter, and the filter mirrors p / (p + L) of them', () => {
  const s = checkoutConfig(mirroring('      shadowPercentage: 5\n      liveSample: 10')).services[0]!;

  const plan = filterGatePlan(s, { filter: true, mirrorPercentage: 5 });

  assert.deepEqual(plan.gate, { share: 15 });
  assert.equal(plan.insidePercentage(5), (100 * 5) / 15);
  // End result: 15 % enter × 1/3 mirrored = 5 %; the other 10 % give live records.
  assert.ok(Math.abs((15 * plan.insidePercentage(5)) / 100 - 5) < 1e-9);
  assert.equal(liveSampleEvery(s), 1, 'every request that enters and is not mirrored gives a live record');
});

test('random at a large share: everything enters and the filter mirrors the configured share itself', () => {
  const s = checkoutConfig(mirroring('      shadowPercentage: 95\n      liveSample: 10')).services[0]!;

  const plan = filterGatePlan(s, { filter: true, mirrorPercentage: 95 });

  assert.deepEqual(plan.gate, { share: 100 });
  assert.equal(plan.insidePercentage(95), 95);
});

test('promotion (no mirror): the live sample alone enters', () => {
  const s = checkoutConfig().services[0]!;

  const plan = filterGatePlan(s, { filter: true, mirrorPercentage: null });

  assert.deepEqual(plan.gate, { share: 5 }, 'the default live sample is 5 %');
});

test('geographic: listed regions enter at p + L, every other request at L', () => {
  const s = checkoutConfig(
    mirroring(
      '      shadowPercentage: 50\n      liveSample: 10\n      mirroringStrategy: geographic\n      geographic: { header: X-Region, regions: [eu, us] }',
    ),
  ).services[0]!;

  const plan = filterGatePlan(s, { filter: true, mirrorPercentage: 50 });

  assert.deepEqual(plan.gate, {
    share: 10,
    regions: { header: 'x-region', values: ['eu', 'us'], share: 60 },
  });
  assert.equal(plan.insidePercentage(50), (100 * 50) / 60);
});

test('user-segment keeps the filter on the whole route (the hash needs every request)', () => {
  const s = checkoutConfig(
    mirroring(
      '      shadowPercentage: 5\n      liveSample: 10\n      mirroringStrategy: user-segment\n      userSegment: { header: x-user }',
    ),
  ).services[0]!;

  const plan = filterGatePlan(s, { filter: true, mirrorPercentage: 5 });

  assert.deepEqual(plan.gate, { share: 100 });
  assert.equal(plan.insidePercentage(5), 5);
  assert.equal(liveSampleEvery(s), 10, 'one live record in ten of the other requests');
});

test('the desired routing of a service carries the gate and the filter its live sampling', () => {
  const config = checkoutConfig(mirroring('      shadowPercentage: 5\n      liveSample: 0'));
  const s = config.services[0]!;
  const endpoints = () => [{ host: '127.0.0.1', port: 9001 }];

  const idle = desiredRouting(config, s, { weights: { v1: 100 }, mirror: null, filter: false }, endpoints);
  const shadowing = desiredRouting(
    config,
    s,
    { weights: { v1: 100 }, mirror: { target: 'v2', baseline: null, percentage: 5 }, filter: true },
    endpoints,
  );

  assert.equal(idle.filterGate, undefined);
  assert.deepEqual(shadowing.filterGate, { share: 5 });
  assert.equal(shadowing.mirror?.filterConfig['liveSampleEvery'], 0, 'live sample 0: no live records');
  assert.deepEqual(idle.mirror, shadowing.mirror, 'the listener is the same whether the filter is on or off');
});

test('adaptive: the route lets in max + L, and the filter carries the share in force q as q / (max + L)', () => {
  const s = checkoutConfig(
    mirroring('      shadowPercentage: { adaptive: { min: 1, max: 20 } }\n      liveSample: 10'),
  ).services[0]!;

  // The route is made for the range's max (the plan's share), whatever the share in force.
  const plan = filterGatePlan(s, { filter: true, mirrorPercentage: s.mirroring.shadowPercentage });

  assert.deepEqual(plan.gate, { share: 30 });
  for (const q of [1, 5, 15, 20]) {
    // End result: 30 % enter × q / 30 mirrored = q % of all eligible requests.
    assert.ok(Math.abs((30 * plan.insidePercentage(q)) / 100 - q) < 1e-9, `share ${q}%`);
  }
  assert.equal(plan.insidePercentage(0), 0, 'a paused share mirrors nothing');
});

test('adaptive, geographic: listed regions enter at max + L and the share in force is carried inside', () => {
  const s = checkoutConfig(
    mirroring(
      '      shadowPercentage: { adaptive: { min: 2, max: 40 } }\n      liveSample: 10\n      mirroringStrategy: geographic\n      geographic: { header: X-Region, regions: [eu] }',
    ),
  ).services[0]!;

  const plan = filterGatePlan(s, { filter: true, mirrorPercentage: 40 });

  assert.equal(plan.gate?.regions?.share, 50);
  assert.ok(Math.abs((50 * plan.insidePercentage(4)) / 100 - 4) < 1e-9);
});
