import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeResource, encodeResource } from '../../../daemon/xds/encode.js';
import { CLUSTER_TYPE, LISTENER_TYPE } from '../../../daemon/xds/type-urls.js';

test('a misspelt field is an error with its path, not a silently dropped setting', () => {
  const r = encodeResource(CLUSTER_TYPE, { name: 'a', conect_timeout: { seconds: 1 } });

  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.errors, ['conect_timeout: no such field in envoy.config.cluster.v3.Cluster']);
});

test('fields inside nested Any values and lists are checked too', () => {
  const listener = {
    name: 'l',
    filter_chains: [
      {
        filters: [
          {
            name: 'hcm',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 's',
              http_filterz: [],
            },
          },
        ],
      },
    ],
  };

  const r = encodeResource(LISTENER_TYPE, listener);

  assert.equal(r.ok, false);
  assert.match(
    !r.ok ? r.errors[0]! : '',
    /^filter_chains\[0\]\.filters\[0\]\.typed_config\.http_filterz: no such field/,
  );
});

test('an enum value that does not exist is refused', () => {
  const r = encodeResource(CLUSTER_TYPE, { name: 'a', lb_policy: 'FASTEST' });

  assert.deepEqual(!r.ok && r.errors, [
    'lb_policy: FASTEST is not a value of envoy.config.cluster.v3.Cluster.LbPolicy',
  ]);
});

test('an unknown message in @type is refused', () => {
  const r = encodeResource(LISTENER_TYPE, {
    name: 'l',
    filter_chains: [
      { filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/no.such.Message' } }] },
    ],
  });

  assert.match(!r.ok ? r.errors[0]! : '', /unknown message type\.googleapis\.com\/no\.such\.Message/);
});

test('encoded resources decode back to the same fields', () => {
  const cluster = { name: 'shop-v1', type: 'EDS', connect_timeout: { seconds: 1 }, lb_policy: 'ROUND_ROBIN' };

  const r = encodeResource(CLUSTER_TYPE, cluster);
  assert.ok(r.ok);
  const back = decodeResource(r.resource);

  assert.equal(r.resource.type_url, CLUSTER_TYPE);
  assert.equal(back['name'], 'shop-v1');
  assert.equal(back['type'], 'EDS');
  assert.deepEqual(back['connect_timeout'], { seconds: 1 });
});
