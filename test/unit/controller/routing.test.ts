/** The desired routing the controller publishes: where the proxies' filters send their records. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredRouting } from '../../../daemon/controller/routing.js';
import { checkoutConfig } from './fixtures.js';

const idle = { weights: { v1: 100 }, mirror: null, filter: false };
const noEndpoints = () => [];

test('the telemetry cluster points at the port the telemetry server bound (port 0 in umbra.yaml)', () => {
  const config = checkoutConfig('daemon:\n  telemetry: { listen: 127.0.0.1:0 }\n');
  const d = desiredRouting(config, config.services[0]!, idle, noEndpoints, undefined, 40123);
  assert.deepEqual(d.telemetry, { address: '127.0.0.1', port: 40123 });
});

test('without a bound port (config check), the configured one', () => {
  const config = checkoutConfig('daemon:\n  telemetry: { listen: 127.0.0.1:7071 }\n');
  const d = desiredRouting(config, config.services[0]!, idle, noEndpoints);
  assert.deepEqual(d.telemetry, { address: '127.0.0.1', port: 7071 });
});
