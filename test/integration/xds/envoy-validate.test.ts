/**
 * `envoy --mode validate` on what the daemon renders: a real Envoy (with the
 * real filter module) accepts a good rendering and refuses a filter setting
 * the filter rejects, with its own words, without starting a proxy.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot, requireEnvoy } from '../../../daemon/platform/envoy-binary.js';
import { envoyValidate } from '../../../daemon/xds/envoy-validate.js';
import type { DesiredRouting } from '../../../daemon/xds/resources/desired.js';
import { renderService } from '../../../daemon/xds/resources/render.js';

const wasmPath = join(projectRoot(), 'build', 'filter.wasm');
const skip = existsSync(wasmPath) ? false : 'build/filter.wasm is missing: run `npm run build:filter`';

function shop(shadowTimeoutMs: number): DesiredRouting {
  return {
    service: 'shop',
    listener: { name: 'shop-ingress', port: 10000, address: '127.0.0.1' },
    versions: [
      { name: 'v1', endpoints: [{ address: '127.0.0.1', port: 9001 }] },
      { name: 'umbra-mirror', endpoints: [] },
    ],
    weights: { v1: 1 },
    mirror: { candidate: 'umbra-mirror', filterConfig: { shadowPercentage: 0, shadowTimeoutMs } },
    telemetry: { address: '127.0.0.1', port: 7001 },
  };
}

test('Envoy validates the rendering: a good one passes, a filter setting it refuses fails with its words', {
  skip,
  timeout: 60_000,
}, async () => {
  const envoy = requireEnvoy();
  const options = { filter: { wasmPath } };

  const good = await envoyValidate(envoy.path, renderService(shop(5000), options));
  const bad = await envoyValidate(envoy.path, renderService(shop(1_200_000), options));

  assert.deepEqual(good, { ok: true });
  assert.equal(bad.ok, false);
  const text = !bad.ok ? bad.errors.join('\n') : '';
  assert.match(text, /shadowTimeoutMs: must be an integer in 1\.\.600000/);
  assert.doesNotMatch(text, /^\[/m, 'log prefixes are stripped');
});
