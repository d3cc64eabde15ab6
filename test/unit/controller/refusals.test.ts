/**
 * Proxy refusals per service: attributed by the resources a NACK names,
 * standing until that proxy accepts a later version of the type, counted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceConfig } from '../../../daemon/config/schema.js';
import { ProxyRefusals } from '../../../daemon/controller/refusals.js';
import { LISTENER_TYPE, type NackRecord } from '../../../daemon/xds/index.js';

const services = [{ name: 'shop' }, { name: 'shop-eu' }, { name: 'cart' }] as ServiceConfig[];

function nack(resources: string[], version = 'l1', nodeId = 'edge-1'): NackRecord {
  return {
    nodeId,
    typeUrl: LISTENER_TYPE,
    version,
    nonce: '1.4',
    streamId: 1,
    code: 13,
    message: 'refused',
    resources,
    at: '',
  };
}

test('a refusal belongs to the services whose resources it names (longest name wins)', () => {
  const refusals = new ProxyRefusals(services);
  const out = refusals.nack(nack(['shop-eu-ingress']), 1000);
  assert.deepEqual(
    out.map((o) => o.service),
    ['shop-eu'],
  );
  assert.deepEqual(refusals.standing('shop'), []);
  assert.deepEqual(refusals.standing('shop-eu'), [
    {
      node: 'edge-1',
      type: 'LDS',
      version: 'l1',
      resources: ['shop-eu-ingress'],
      message: 'refused',
      at: 1000,
    },
  ]);
});

test('a refusal naming no service concerns every service', () => {
  const refusals = new ProxyRefusals(services);
  const out = refusals.nack(nack(['umbra-telemetry']), 1000);
  assert.deepEqual(out.map((o) => o.service).sort(), ['cart', 'shop', 'shop-eu']);
});

test('it stands until that proxy accepts the version it should have now; counted for /metrics', () => {
  const refusals = new ProxyRefusals(services);
  refusals.nack(nack(['shop-ingress']), 1000);
  const ack = { nodeId: 'edge-1', typeUrl: LISTENER_TYPE as typeof LISTENER_TYPE, nonce: '1.5', streamId: 1 };
  // The last good version (served to a stream that connects meanwhile) or another proxy: still standing.
  assert.deepEqual(refusals.ack({ ...ack, version: 'l0' }, 'l1'), []);
  assert.deepEqual(refusals.ack({ ...ack, nodeId: 'edge-2', version: 'l1' }, 'l1'), []);
  assert.equal(refusals.standing('shop').length, 1);
  const families = refusals.metrics();
  assert.deepEqual(families[0]?.samples, [{ labels: { service: 'shop', type: 'LDS' }, value: 1 }]);
  assert.deepEqual(
    families[1]?.samples.find((s) => s.labels?.['service'] === 'shop'),
    { labels: { service: 'shop' }, value: 1 },
  );
  // The current version accepted (the same one, on a new stream once the cause is gone): cleared.
  assert.deepEqual(refusals.ack({ ...ack, version: 'l1' }, 'l1'), ['shop']);
  assert.deepEqual(refusals.standing('shop'), []);
});
