import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeResource } from '../../../../daemon/xds/encode.js';
import { nameResources } from '../../../../daemon/xds/overlay/relay.js';
import { CLUSTER_TYPE, LISTENER_TYPE } from '../../../../daemon/xds/type-urls.js';

function cluster(obj: object): { type_url: string; value: Uint8Array } {
  const r = encodeResource(CLUSTER_TYPE, obj);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.resource;
}

test('upstream resources are named by their own bytes, left as they are', () => {
  const a = cluster({ name: 'a', connect_timeout: { seconds: 1 } });

  const r = nameResources(CLUSTER_TYPE, [a]);

  assert.ok(r.ok);
  assert.equal(r.items.get('a')!.value, a.value);
});

test('what an upstream must not send is refused with the path of each resource', () => {
  const r = nameResources(CLUSTER_TYPE, [
    cluster({ name: 'a' }),
    cluster({ connect_timeout: { seconds: 1 } }),
    cluster({ name: 'a' }),
    { type_url: LISTENER_TYPE, value: new Uint8Array() },
    { type_url: CLUSTER_TYPE, value: new Uint8Array([0x0a, 0x05, 0x61]) },
  ]);

  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.errors, [
    'resources[1]: has no name',
    'resources[2]: duplicate name a',
    `resources[3]: type ${LISTENER_TYPE} in a CDS response`,
    'resources[4]: not a valid CDS resource',
  ]);
});
