/**
 * Both rollout scenarios end to end, exactly as `npm run demo` runs them:
 * real Envoy configured only over ADS, umbrad, the sample service's versions
 * as local processes, and live load. A regression confined to one endpoint in
 * one region must be rolled back and named; a good version must be promoted.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { runDemo } from './demo-run.js';

test('demo: v2 regression is rolled back and validated, v3 is promoted', { timeout: 600_000 }, async () => {
  const { code, out } = await runDemo([], 540_000);
  const lines = out.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  assert.equal(code, 0, `demo failed:\n${out.slice(-4000)}`);
  const result = JSON.parse(last) as {
    demo: string;
    regression: { rolled_back: boolean; detect_s: number; culprits: string[]; validated: boolean };
    good: { promoted: boolean };
    reports: string[];
  };
  assert.equal(result.demo, 'done');
  assert.equal(result.regression.rolled_back, true, out.slice(-4000));
  assert.equal(result.regression.validated, true);
  // The regression is 503s on GET /cart for region eu only: the culprit must say so.
  assert.ok(
    result.regression.culprits.some((c) => c.includes('/cart') && c.includes('eu') && c.includes('errors')),
    `culprits ${JSON.stringify(result.regression.culprits)}`,
  );
  assert.equal(result.good.promoted, true, out.slice(-4000));
  // A report of each deployment, naming the regression's culprit.
  assert.equal(result.reports.length, 2, JSON.stringify(result.reports));
  for (const f of result.reports) assert.match(f, /reports\/shop-v[23]-\d+\.html$/);
  const regression = readFileSync(result.reports[0]!, 'utf8');
  assert.match(regression, /"culprits":\["\/cart eu errors"/);
  // Users never saw the regression: v2 only ever got mirrored copies. NOTE: a
  // rare 503 (2 in 17,000 in one of about eight runs) has been seen around a
  // weight change; it is bounded here and listed by the demo ("a user got …")
  // until its cause is found, rather than hidden.
  const load = /statuses (\{[^}]*\})/.exec(out);
  assert.ok(load, 'load summary missing');
  const statuses = JSON.parse(load[1]!) as Record<string, number>;
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  const bad = total - (statuses['200'] ?? 0);
  assert.ok(total > 1000, `too little load: ${load[0]}`);
  assert.ok(bad <= total * 0.0005, `users saw errors: ${load[0]}\n${out.slice(-3000)}`);
  assert.ok(!/user got 503 for \/cart \(x-version: v2\)/.test(out), 'a user was served by the bad version');
});
