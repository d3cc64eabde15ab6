import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publishServices } from '../../../daemon/xds/publish.js';
import type { DesiredRouting } from '../../../daemon/xds/resources/desired.js';
import type { Snapshot } from '../../../daemon/xds/snapshot.js';
import { CLUSTER_TYPE } from '../../../daemon/xds/type-urls.js';

function service(name: string, port: number): DesiredRouting {
  return {
    service: name,
    listener: { name, port, address: '0.0.0.0' },
    versions: [{ name: 'v1', endpoints: [{ address: '10.0.0.1', port: 8080 }] }],
    weights: { v1: 1 },
    telemetry: { address: '127.0.0.1', port: 7001 },
  };
}

function recorder() {
  const published: Array<[string, Snapshot]> = [];
  return {
    published,
    setSnapshot(nodeId: string, s: Snapshot) {
      published.push([nodeId, s]);
      return { CDS: s.types.get(CLUSTER_TYPE)!.version };
    },
  };
}

test('every service of a node is published as one snapshot', () => {
  const sink = recorder();

  const r = publishServices(sink, 'edge-1', [service('shop', 10000), service('cart', 10001)]);

  assert.ok(r.ok);
  assert.equal(sink.published.length, 1);
  const [nodeId, s] = sink.published[0]!;
  assert.equal(nodeId, 'edge-1');
  assert.deepEqual([...s.types.get(CLUSTER_TYPE)!.items.keys()], ['cart-v1', 'shop-v1', 'umbra-telemetry']);
});

test('one invalid service publishes nothing and names its index', () => {
  const sink = recorder();
  const bad = service('cart', 10001);
  bad.weights = { v3: 1 };

  const r = publishServices(sink, 'edge-1', [service('shop', 10000), bad]);

  assert.deepEqual(!r.ok && r.errors, [
    'services[1].weights.v3: no such version',
    'services[1].weights: must give some version a positive weight',
  ]);
  assert.equal(sink.published.length, 0);
});
