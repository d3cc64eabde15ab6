import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSnapshot, snapshotVersions, type TypeResources } from '../../../daemon/xds/snapshot.js';
import { snapshotFromText, snapshotToText } from '../../../daemon/xds/snapshot-codec.js';

const cluster = {
  name: 'shop-v1',
  type: 'STATIC',
  connect_timeout: { seconds: 1 },
  load_assignment: {
    cluster_name: 'shop-v1',
    endpoints: [
      {
        lb_endpoints: [
          { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9000 } } } },
        ],
      },
    ],
  },
};

test('a snapshot read back from its text has the same bytes and versions (no change for a moving proxy)', () => {
  const built = createSnapshot({ clusters: [cluster] });
  if (!built.ok) throw new Error(built.errors.join('; '));
  const back = snapshotFromText(snapshotToText(built.snapshot));
  if (!back.ok) throw new Error(back.errors.join('; '));
  assert.deepEqual(snapshotVersions(back.snapshot), snapshotVersions(built.snapshot));
  for (const [type, r] of built.snapshot.types) {
    const other: TypeResources = back.snapshot.types.get(type)!;
    assert.deepEqual([...other.items.keys()], [...r.items.keys()]);
    for (const [name, a] of r.items) {
      assert.equal(other.items.get(name)!.type_url, a.type_url);
      assert.deepEqual(Buffer.from(other.items.get(name)!.value), Buffer.from(a.value));
    }
  }
});

test('malformed text is refused with paths, and no snapshot', () => {
  const notJson = snapshotFromText('{');
  assert.ok(!notJson.ok);
  assert.match(notJson.errors[0]!, /^\(root\): not JSON/);
  const r = snapshotFromText(
    JSON.stringify([
      ['type.googleapis.com/nope', []],
      ['type.googleapis.com/envoy.config.cluster.v3.Cluster', [['a', 1]]],
    ]),
  );
  assert.deepEqual(r, {
    ok: false,
    errors: [
      '[0][0]: unknown type URL "type.googleapis.com/nope"',
      '[1][1][0]: must be [name, type URL, base64]',
    ],
  });
});
