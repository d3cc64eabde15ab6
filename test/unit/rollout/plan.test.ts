import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import { planFor, productionReplicasOf } from '../../../daemon/rollout/plan.js';

test('a plan is frozen from the service config, with the shadow sized from production', () => {
  const r = parseConfig(`
services:
  - name: checkout
    stable: v1
    provisioner:
      kind: process
      replicas: 8
      versions: { v1: { command: [a] }, v2: { command: [b] } }
    mirroring: { shadowPercentage: 25, baseline: true }
    rollout:
      headroom: 1.5
      shadowDuration: 90s
      steps: [{ weight: 50, hold: 1m }, { weight: 100, hold: 2m }]
      validationPeriod: 3m
`);
  assert.ok(r.ok);
  const s = r.config.services[0]!;
  assert.equal(productionReplicasOf(s), 8);
  assert.deepEqual(planFor(s, productionReplicasOf(s)), {
    shadowPercentage: 25,
    baseline: true,
    // ⌈8 × 0.25 × 1.5⌉ = 3
    shadowReplicas: 3,
    productionReplicas: 8,
    shadowDurationMs: 90_000,
    steps: [
      { weight: 50, holdMs: 60_000 },
      { weight: 100, holdMs: 120_000 },
    ],
    bakeMs: 300_000,
    validationPeriodMs: 180_000,
    provisionTimeoutMs: 120_000,
    capacityTimeoutMs: 120_000,
    maxHoldExtensions: 3,
  });
});

test('a static service is as large as its stable version has endpoints', () => {
  const r = parseConfig(`
services:
  - name: catalog
    stable: v7
    provisioner:
      kind: static
      versions: { v7: { endpoints: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'] }, v8: { endpoints: ['127.0.0.1:4'] } }
`);
  assert.ok(r.ok);
  assert.equal(productionReplicasOf(r.config.services[0]!), 3);
});
