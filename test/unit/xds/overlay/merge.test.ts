import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AnyResource, decodeResource, encodeResource } from '../../../../daemon/xds/encode.js';
import type { OverlayService } from '../../../../daemon/xds/overlay/edits.js';
import { type EncodedTypes, mergeOverlay, umbraKey } from '../../../../daemon/xds/overlay/merge.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  type TypeUrl,
} from '../../../../daemon/xds/type-urls.js';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const ADS = { ads: {}, resource_api_version: 'V3' };

function enc(typeUrl: TypeUrl, obj: object): AnyResource {
  const r = encodeResource(typeUrl, obj);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.resource;
}

/** What an upstream sends: services `shop` and `web`, each a listener, routes and an EDS cluster. */
function upstream(): EncodedTypes {
  const types = new Map<TypeUrl, Map<string, AnyResource>>(
    ([CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE] as TypeUrl[]).map((t) => [
      t,
      new Map<string, AnyResource>(),
    ]),
  );
  for (const [name, port] of [
    ['shop', 10000],
    ['web', 10001],
  ] as const) {
    types.get(LISTENER_TYPE)!.set(
      `${name}-ingress`,
      enc(LISTENER_TYPE, {
        name: `${name}-ingress`,
        address: { socket_address: { address: '127.0.0.1', port_value: port } },
        filter_chains: [
          {
            filters: [
              {
                name: 'hcm',
                typed_config: {
                  '@type': HCM,
                  stat_prefix: name,
                  rds: { route_config_name: `${name}-routes`, config_source: ADS },
                  http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
                },
              },
            ],
          },
        ],
      }),
    );
    types.get(ROUTE_TYPE)!.set(
      `${name}-routes`,
      enc(ROUTE_TYPE, {
        name: `${name}-routes`,
        virtual_hosts: [
          { name, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: name } }] },
        ],
      }),
    );
    types.get(CLUSTER_TYPE)!.set(
      name,
      enc(CLUSTER_TYPE, {
        name,
        type: 'EDS',
        eds_cluster_config: { eds_config: ADS },
        connect_timeout: { seconds: 1 },
      }),
    );
    types.get(ENDPOINT_TYPE)!.set(name, enc(ENDPOINT_TYPE, { cluster_name: name, endpoints: [] }));
  }
  return types;
}

function shop(weights: Record<string, number>, cluster = 'shop', gated = false): OverlayService {
  return {
    at: 'services[0]',
    upstreamCluster: cluster,
    listener: 'shop-ingress',
    stable: 'v1',
    desired: {
      service: 'shop',
      listener: { name: 'shop-ingress', address: '127.0.0.1', port: 10000 },
      versions: [
        { name: 'v1', endpoints: [{ address: '127.0.0.1', port: 9001 }] },
        { name: 'v2', endpoints: [{ address: '127.0.0.1', port: 9002 }] },
        { name: 'umbra-mirror', endpoints: [{ address: '127.0.0.1', port: 9002 }] },
      ],
      weights,
      mirror: { candidate: 'umbra-mirror', filterConfig: { shadowPercentage: 0 } },
      telemetry: { address: '127.0.0.1', port: 7071 },
      ...(gated ? { filterGate: { share: 100 } } : {}),
    },
  };
}

const filter = { wasmPath: '/opt/umbra/filter.wasm' };
// biome-ignore lint/suspicious/noExplicitAny: decoded Envoy resources are free-form JSON that tests walk.
type Obj = Record<string, any>;

test('without managed services every resource passes through as the upstream encoded it', () => {
  const up = upstream();

  const r = mergeOverlay(up, { services: [], filter });

  for (const [t, items] of up)
    for (const [name, res] of items) assert.equal(r.types.get(t)!.get(name), res, name);
  assert.deepEqual(r.errors, []);
  assert.equal(r.umbra.size, 0);
});

test('outside a deployment: the filter goes into the listener, the mirror clusters are added, routes stay the upstream’s', () => {
  const up = upstream();

  const r = mergeOverlay(up, { services: [shop({ v1: 100 })], filter });

  const hcm = (decodeResource(r.types.get(LISTENER_TYPE)!.get('shop-ingress')!) as Obj)['filter_chains'][0]
    .filters[0].typed_config;
  assert.deepEqual(
    hcm.http_filters.map((f: Obj) => f['name']),
    ['umbra', 'envoy.filters.http.router'],
  );
  assert.equal(r.types.get(ROUTE_TYPE)!.get('shop-routes'), up.get(ROUTE_TYPE)!.get('shop-routes'));
  assert.equal(r.types.get(LISTENER_TYPE)!.get('web-ingress'), up.get(LISTENER_TYPE)!.get('web-ingress'));
  assert.deepEqual([...r.types.get(CLUSTER_TYPE)!.keys()].sort(), [
    'shop',
    'shop-umbra-mirror',
    'shop-v2',
    'umbra-telemetry',
    'web',
  ]);
  assert.ok(!r.types.get(CLUSTER_TYPE)!.has('shop-v1'), 'the stable version is the upstream’s cluster');
  assert.ok(r.owned.has('shop-umbra-mirror') && !r.owned.has('shop'));
  assert.deepEqual(r.umbra.get(umbraKey(LISTENER_TYPE, 'shop-ingress')), ['shop']);
});

test('outside a deployment the filter is in the listener but disabled; shadowing enables it on the service’s route only', () => {
  const up = upstream();

  const idle = mergeOverlay(up, { services: [shop({ v1: 100 })], filter });
  const shadowing = mergeOverlay(up, { services: [shop({ v1: 100 }, 'shop', true)], filter });

  const umbra = (decodeResource(idle.types.get(LISTENER_TYPE)!.get('shop-ingress')!) as Obj)[
    'filter_chains'
  ][0].filters[0].typed_config.http_filters[0];
  assert.equal(umbra.name, 'umbra');
  assert.equal(umbra.disabled, true, 'no request runs the filter unless its route enables it');
  assert.equal(idle.types.get(ROUTE_TYPE)!.get('shop-routes'), up.get(ROUTE_TYPE)!.get('shop-routes'));
  assert.equal(
    shadowing.types.get(LISTENER_TYPE)!.get('shop-ingress'),
    idle.types.get(LISTENER_TYPE)!.get('shop-ingress'),
    'a deployment does not touch the listener',
  );
  const route = (decodeResource(shadowing.types.get(ROUTE_TYPE)!.get('shop-routes')!) as Obj)[
    'virtual_hosts'
  ][0].routes[0];
  assert.deepEqual(Object.keys(route.typed_per_filter_config), ['umbra']);
  assert.equal(route.route.cluster, 'shop', 'users stay on the upstream’s cluster while shadowing');
  assert.equal(shadowing.types.get(ROUTE_TYPE)!.get('web-routes'), up.get(ROUTE_TYPE)!.get('web-routes'));
});

test('promoting: the service’s route splits between the upstream’s cluster and Umbra’s candidate; others are untouched', () => {
  const up = upstream();

  const r = mergeOverlay(up, { services: [shop({ v1: 75, v2: 25 })], filter });

  const route = (decodeResource(r.types.get(ROUTE_TYPE)!.get('shop-routes')!) as Obj)['virtual_hosts'][0]
    .routes[0].route;
  assert.deepEqual(route.weighted_clusters.clusters, [
    { name: 'shop', weight: { value: 75 } },
    { name: 'shop-v2', weight: { value: 25 } },
  ]);
  assert.equal(route.cluster, undefined);
  assert.equal(r.types.get(ROUTE_TYPE)!.get('web-routes'), up.get(ROUTE_TYPE)!.get('web-routes'));
});

test('a service the upstream does not have is left alone with an error naming its path', () => {
  const up = upstream();

  const r = mergeOverlay(up, { services: [shop({ v1: 50, v2: 50 }, 'checkout')], filter });

  assert.deepEqual(r.errors, [
    "services[0].overlay.cluster: the upstream control plane sends no cluster 'checkout'; shop is passed through unmanaged",
  ]);
  for (const [t, items] of up)
    for (const [name, res] of items) assert.equal(r.types.get(t)!.get(name), res, name);
  assert.equal(r.types.get(CLUSTER_TYPE)!.size, 2);
});

test('a withdrawn service is passed through unedited', () => {
  const up = upstream();

  const r = mergeOverlay(up, { services: [shop({ v1: 50, v2: 50 })], filter, withdrawn: new Set(['shop']) });

  for (const [t, items] of up)
    for (const [name, res] of items) assert.equal(r.types.get(t)!.get(name), res, name);
  assert.equal(r.umbra.size, 0);
});

test('only the types the upstream has sent are there (EDS too when Umbra adds endpoints)', () => {
  const full = upstream();
  const up: EncodedTypes = new Map([[CLUSTER_TYPE as TypeUrl, full.get(CLUSTER_TYPE)!]]);

  const r = mergeOverlay(up, { services: [shop({ v1: 100 })], filter });

  assert.deepEqual([...r.types.keys()].sort(), [CLUSTER_TYPE, ENDPOINT_TYPE].sort());
});
