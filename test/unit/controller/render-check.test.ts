/**
 * `config check` (and the daemon at start) render every service as it would
 * be pushed and refuse what Envoy would refuse, naming the umbra.yaml path.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import { checkRendering } from '../../../daemon/controller/render-check.js';
import { checkoutConfig } from './fixtures.js';

function config(mirroring: string): ReturnType<typeof parseConfig> {
  return parseConfig(`
services:
  - name: shop
    stable: v1
    listen: 127.0.0.1:10000
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:9001'] }
    mirroring: ${mirroring}
`);
}

test('a valid service renders to what proxies accept', () => {
  const c = config('{ shadowPercentage: 10, timeout: 5s }');
  assert.ok(c.ok, !c.ok ? c.errors.join('\n') : '');
  assert.deepEqual(checkRendering(c.config), []);
});

test('mirroring.timeout the filter refuses (20m) is an error at its path', () => {
  const c = config('{ shadowPercentage: 10, timeout: 20m }');
  // The schema may accept it (its own bound is another check); the rendering check must not.
  if (!c.ok) {
    assert.ok(c.errors.some((e) => e.startsWith('services[0].mirroring.timeout')));
    return;
  }
  assert.deepEqual(checkRendering(c.config), [
    'services[0].mirroring.timeout: the Umbra filter refuses it: shadowTimeoutMs: must be an integer 1..600000 (got 1200000)',
  ]);
});

test('mirroring.timeout 0 is an error at its path', () => {
  const c = config('{ shadowPercentage: 10, timeout: 0s }');
  if (!c.ok) {
    assert.ok(c.errors.some((e) => e.startsWith('services[0].mirroring.timeout')));
    return;
  }
  assert.deepEqual(checkRendering(c.config), [
    'services[0].mirroring.timeout: the Umbra filter refuses it: shadowTimeoutMs: must be an integer 1..600000 (got 0)',
  ]);
});

test('a telemetry port of 0 (the kernel picks one at start) is no rendering error', () => {
  const c = checkoutConfig('daemon:\n  telemetry: { listen: 127.0.0.1:0 }\n');
  assert.deepEqual(checkRendering(c), []);
});
