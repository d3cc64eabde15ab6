/**
 * A rollout's chaos step in umbra.yaml: checked at load with a path per
 * problem (a fault on an unknown dependency, a bad duration, a step that
 * cannot run), and frozen into the rollout plan.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import { planFor } from '../../../daemon/rollout/plan.js';

const shop = (chaos: string, deps = 'egress: 127.0.0.1:15001, dependencies: { db: "127.0.0.1:7000" }, ') =>
  `services:\n  - { name: shop, stable: v1, ${deps}provisioner: { kind: static, versions: { v1: { endpoints: ["127.0.0.1:9001"] } } }, rollout: { chaos: ${chaos} } }\n`;

function errorsOf(text: string): string[] {
  const r = parseConfig(text);
  return r.ok ? [] : r.errors;
}

test('a chaos step is frozen into the plan: its faults parsed, report only by default', () => {
  const r = parseConfig(
    shop('{ experiments: [{ faults: ["db:abort=503@30%", "db:delay=200ms"], duration: 20s }] }'),
  );
  assert.ok(r.ok, r.ok ? '' : r.errors.join('; '));

  const plan = planFor(r.config.services[0]!, 1);

  assert.deepEqual(plan.chaos, {
    failOn: 'report',
    experiments: [
      {
        faults: [
          { kind: 'abort', dependency: 'db', status: 503, percent: 30 },
          { kind: 'delay', dependency: 'db', ms: 200, percent: 100 },
        ],
        durationMs: 20_000,
      },
    ],
  });
});

test('bad steps are refused with their paths', () => {
  const base = 'services[0].rollout.chaos';
  assert.deepEqual(errorsOf(shop('{ experiments: [{ faults: ["cache:abort=503"] }] }')), [
    `${base}.experiments[0].faults[0]: unknown dependency 'cache' (declared: db)`,
  ]);
  assert.deepEqual(errorsOf(shop('{ experiments: [{ faults: ["db:abort=503"], duration: soon }] }')), [
    `${base}.experiments[0].duration: must be a duration like 30s, 5m or 1h (got "soon")`,
  ]);
  assert.deepEqual(errorsOf(shop('{ experiments: [{ faults: ["db:abort=503"], duration: 2h }] }')), [
    `${base}.experiments[0].duration: must be at least 1s and at most 1h (got "2h")`,
  ]);
  assert.deepEqual(errorsOf(shop('{ experiments: [{ faults: ["db:explode"] }] }')).length, 1);
  assert.match(
    errorsOf(shop('{ experiments: [{ faults: ["lose-replica=1"] }] }'))[0]!,
    /faults\[0\]: lose-replica is not available/,
  );
  assert.deepEqual(errorsOf(shop('{ failOn: always, experiments: [{ faults: ["db:abort=503"] }] }')), [
    `${base}.failOn: must be report or resilience`,
  ]);
  assert.deepEqual(errorsOf(shop('{ experiments: [] }')), [`${base}.experiments: at least one experiment`]);
});

test('a step that cannot run is refused: no egress listener to fault', () => {
  const errors = errorsOf(shop('{ experiments: [{ faults: ["db:abort=503"] }] }', ''));
  assert.deepEqual(errors, [
    "services[0].rollout.chaos: needs dependencies and egress: the faults ride on the versions' calls through the egress listener",
    "services[0].rollout.chaos.experiments[0].faults[0]: unknown dependency 'db' (declared: none)",
  ]);
});
