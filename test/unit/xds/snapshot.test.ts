import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConsistency, createSnapshot } from '../../../daemon/xds/snapshot.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function eds(name: string): object {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} } },
    connect_timeout: { seconds: 1 },
  };
}
function cla(name: string, port = 9000): object {
  return {
    cluster_name: name,
    endpoints: [
      {
        lb_endpoints: [
          { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
        ],
      },
    ],
  };
}
function routes(name: string, clusters: Array<[string, number]>): object {
  return {
    name,
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        routes: [
          {
            match: { prefix: '/' },
            route: {
              weighted_clusters: { clusters: clusters.map(([n, w]) => ({ name: n, weight: { value: w } })) },
            },
          },
        ],
      },
    ],
  };
}
function listener(routeName: string): object {
  return {
    name: 'l',
    address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: 's',
              rds: { route_config_name: routeName, config_source: { ads: {} } },
            },
          },
        ],
      },
    ],
  };
}

test('a route naming a missing cluster is refused with the path of the reference', () => {
  const errors = checkConsistency({
    clusters: [eds('a')],
    endpoints: [cla('a')],
    routes: [
      routes('r', [
        ['a', 1],
        ['b', 1],
      ]),
    ],
  });

  assert.deepEqual(errors, [
    'routes[0].virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name: cluster b does not exist',
  ]);
});

test('an EDS cluster without a load assignment is refused', () => {
  const errors = checkConsistency({ clusters: [eds('a'), eds('b')], endpoints: [cla('a')] });

  assert.deepEqual(errors, ['clusters[1]: EDS cluster b has no endpoints resource b']);
});

test('a listener naming a missing route configuration is refused', () => {
  const errors = checkConsistency({ listeners: [listener('nope')] });

  assert.equal(errors.length, 1);
  assert.match(
    errors[0]!,
    /^listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.rds\.route_config_name: /,
  );
});

test('createSnapshot refuses duplicate names and inconsistent sets; publishes nothing half-checked', () => {
  const dup = createSnapshot({ clusters: [eds('a'), eds('a')], endpoints: [cla('a')] });
  const missing = createSnapshot({ routes: [routes('r', [['a', 1]])] });

  assert.deepEqual(!dup.ok && dup.errors, ['clusters[1]: duplicate name a']);
  assert.equal(missing.ok, false);
});

test('versions follow content: equal input, equal versions; a weight change moves only RDS', () => {
  const input = (w: number) => ({
    clusters: [eds('a'), eds('b')],
    endpoints: [cla('a'), cla('b')],
    listeners: [listener('r')],
    routes: [
      routes('r', [
        ['a', w],
        ['b', 100 - w],
      ]),
    ],
  });

  const one = createSnapshot(input(100));
  const again = createSnapshot(input(100));
  const flipped = createSnapshot(input(1));
  assert.ok(one.ok && again.ok && flipped.ok);
  const v = (s: typeof one, t: string) => (s.ok ? s.snapshot.types.get(t as never)!.version : '');

  for (const t of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE])
    assert.equal(v(one, t), v(again, t));
  for (const t of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE]) assert.equal(v(one, t), v(flipped, t));
  assert.notEqual(v(one, ROUTE_TYPE), v(flipped, ROUTE_TYPE));
});
