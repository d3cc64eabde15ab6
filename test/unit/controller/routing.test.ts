/** The desired routing the controller publishes: where the proxies' filters send their records. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import { desiredRouting } from '../../../daemon/controller/routing.js';

function configWithTelemetry(listen: string) {
  const c = parseConfig(`
daemon:
  telemetry: { listen: ${listen} }
services:
  - name: shop
    stable: v1
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:9001'] }
`);
  assert.ok(c.ok, !c.ok ? c.errors.join('\n') : '');
  return c.config;
}

const idle = { weights: { v1: 100 }, mirror: null };
const noEndpoints = () => [];

test('the telemetry cluster points at the port the telemetry server bound (port 0 in umbra.yaml)', () => {
  const config = configWithTelemetry('127.0.0.1:0');
  const d = desiredRouting(config, config.services[0]!, idle, noEndpoints, undefined, 40123);
  assert.deepEqual(d.telemetry, { address: '127.0.0.1', port: 40123 });
});

test('without a bound port (config check), the configured one', () => {
  const config = configWithTelemetry('127.0.0.1:7071');
  const d = desiredRouting(config, config.services[0]!, idle, noEndpoints);
  assert.deepEqual(d.telemetry, { address: '127.0.0.1', port: 7071 });
});
