import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DesiredRouting, validateDesired } from '../../../daemon/xds/resources/desired.js';
import { mergeResources, renderService } from '../../../daemon/xds/resources/render.js';
import { createSnapshot } from '../../../daemon/xds/snapshot.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';
import { desired, FILTER, one, snap } from './render-fixtures.js';

test('clusters are named <service>-<version>, plus the HTTP/2 telemetry cluster', () => {
  const s = snap(desired());

  assert.deepEqual(
    [...s.types.get(CLUSTER_TYPE)!.items.keys()],
    ['shop-v1', 'shop-v1-baseline', 'shop-v2', 'umbra-telemetry'],
  );
  const telemetry = one(s, CLUSTER_TYPE, 'umbra-telemetry');
  assert.equal(telemetry['type'], 'STATIC');
  const options =
    telemetry['typed_extension_protocol_options']['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  assert.deepEqual(options['explicit_http_config'], { http2_protocol_options: {} });
  assert.equal(one(s, CLUSTER_TYPE, 'shop-v2')['type'], 'EDS');
  // Envoy closes idle HTTP/1.1 upstream connections before a typical
  // upstream keep-alive (5 s) would: no reset race on a reused connection.
  const v2 = one(s, CLUSTER_TYPE, 'shop-v2')['typed_extension_protocol_options'][
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
  ];
  assert.deepEqual(v2['common_http_protocol_options'], { idle_timeout: { seconds: 4 } });
  assert.deepEqual(v2['explicit_http_config'], { http_protocol_options: {} });
});

test("with TLS the telemetry cluster checks the daemon's CA and name, and can show a client certificate", () => {
  const caFile = '/etc/envoy/umbra-ca.pem';
  const tls = { caFile, serverName: 'umbrad.internal' };
  const mutual = { ...tls, certFile: '/etc/envoy/client.pem', keyFile: '/etc/envoy/client.key' };

  const socketOf = (d: DesiredRouting) => one(snap(d), CLUSTER_TYPE, 'umbra-telemetry')['transport_socket'];
  const plain = socketOf(desired());
  const server = socketOf(desired({ telemetry: { address: '127.0.0.1', port: 7001, tls } }));
  const client = socketOf(desired({ telemetry: { address: '127.0.0.1', port: 7001, tls: mutual } }));

  assert.equal(plain, undefined);
  assert.equal(server['name'], 'envoy.transport_sockets.tls');
  const context = server['typed_config'];
  assert.equal(
    context['@type'],
    'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  );
  assert.equal(context['sni'], 'umbrad.internal');
  assert.deepEqual(context['common_tls_context'], {
    validation_context: {
      trusted_ca: { filename: caFile },
      match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'umbrad.internal' } }],
    },
  });
  assert.deepEqual(client['typed_config']['common_tls_context']['tls_certificates'], [
    {
      certificate_chain: { filename: '/etc/envoy/client.pem' },
      private_key: { filename: '/etc/envoy/client.key' },
    },
  ]);
  assert.deepEqual(
    validateDesired(
      desired({
        telemetry: { address: '127.0.0.1', port: 7001, tls: { ...tls, serverName: '', keyFile: 'k' } },
      }),
    ),
    ['telemetry.tls.serverName: required', 'telemetry.tls.certFile: certFile and keyFile go together'],
  );
});

test('the route splits by weight over the versions with a positive weight, with the timeout', () => {
  const s = snap(desired({ weights: { v1: 90, v2: 10 } }));

  const route = one(s, ROUTE_TYPE, 'shop-routes')['virtual_hosts'][0]['routes'][0]['route'];
  assert.deepEqual(route['weighted_clusters']['clusters'], [
    { name: 'shop-v1', weight: { value: 90 } },
    { name: 'shop-v2', weight: { value: 10 } },
  ]);
  assert.deepEqual(route['timeout'], { seconds: 2, nanos: 500_000_000 });
});

test('the Umbra filter sits before the router with its configuration and the cluster names', () => {
  const s = snap(desired(), FILTER);

  const hcm = one(s, LISTENER_TYPE, 'shop-in')['filter_chains'][0]['filters'][0]['typed_config'];
  const [umbra, router] = hcm['http_filters'];
  const config = umbra['typed_config']['config'];
  assert.equal(router['name'], 'envoy.filters.http.router');
  assert.equal(config['vm_config']['runtime'], 'envoy.wasm.runtime.v8');
  assert.deepEqual(config['vm_config']['code'], { local: { filename: '/opt/umbra/filter.wasm' } });
  assert.equal(config['configuration']['@type'], 'type.googleapis.com/google.protobuf.StringValue');
  assert.deepEqual(JSON.parse(config['configuration']['value']), {
    endpointFrom: 'path',
    shadowPercentage: 5,
    service: 'shop',
    candidateCluster: 'shop-v2',
    baselineCluster: 'shop-v1-baseline',
    telemetryCluster: 'umbra-telemetry',
  });
  assert.deepEqual(hcm['rds']['route_config_name'], 'shop-routes');
});

test('the filter takes endpoints from the path, as no rendered route has a name, unless the spec says otherwise', () => {
  const pluginConfig = (s: ReturnType<typeof snap>) => {
    const hcm = one(s, LISTENER_TYPE, 'shop-in')['filter_chains'][0]['filters'][0]['typed_config'];
    return JSON.parse(hcm['http_filters'][0]['typed_config']['config']['configuration']['value']);
  };
  const gated = snap(desired({ filterGate: { share: 10 } }), FILTER);
  const routes = one(gated, ROUTE_TYPE, 'shop-routes')['virtual_hosts'][0]['routes'];
  assert.ok(routes.length >= 2);
  for (const r of routes) assert.equal(r['name'], undefined);
  assert.equal(pluginConfig(gated)['endpointFrom'], 'path');

  const own = snap(desired({ mirror: { candidate: 'v2', filterConfig: { endpointFrom: 'route' } } }), FILTER);
  assert.equal(pluginConfig(own)['endpointFrom'], 'route');
});

test('without the filter flag, or without a candidate, only the router is rendered', () => {
  const noFlag = snap(desired());
  const noCandidate = snap(desired({ mirror: { filterConfig: {} } }), FILTER);

  for (const s of [noFlag, noCandidate]) {
    const hcm = one(s, LISTENER_TYPE, 'shop-in')['filter_chains'][0]['filters'][0]['typed_config'];
    assert.deepEqual(
      hcm['http_filters'].map((f: { name: string }) => f.name),
      ['envoy.filters.http.router'],
    );
  }
});

test('weight and endpoint changes leave the listener bytes unchanged', () => {
  const base = snap(desired(), FILTER);
  const moved = desired({ weights: { v2: 100 } });
  moved.versions[0]!.endpoints = [{ address: '10.0.0.9', port: 9090 }];

  const changed = snap(moved, FILTER);

  assert.equal(changed.types.get(LISTENER_TYPE)!.version, base.types.get(LISTENER_TYPE)!.version);
  assert.equal(changed.types.get(CLUSTER_TYPE)!.version, base.types.get(CLUSTER_TYPE)!.version);
  assert.notEqual(changed.types.get(ROUTE_TYPE)!.version, base.types.get(ROUTE_TYPE)!.version);
});

test('for proxyless gRPC the listener is an API listener named after the service', () => {
  const s = snap(desired(), { ...FILTER, proxy: 'grpc' });

  const l = one(s, LISTENER_TYPE, 'shop');
  assert.equal(l['address'], undefined);
  assert.equal(l['api_listener']['api_listener']['http_filters'].length, 1);
  assert.ok(!s.types.get(CLUSTER_TYPE)!.items.has('umbra-telemetry'));
});

test('services merge into one node, sharing the telemetry cluster once', () => {
  const other = desired({ service: 'cart', listener: { name: 'cart-in', port: 10001, address: '0.0.0.0' } });

  const merged = mergeResources([renderService(desired()), renderService(other)]);
  const r = createSnapshot(merged);

  assert.ok(r.ok, r.ok ? '' : r.errors.join('; '));
  assert.equal(merged.clusters!.filter((c) => (c as { name: string }).name === 'umbra-telemetry').length, 1);
  assert.equal(merged.listeners!.length, 2);
});

test('invalid desired routing is reported with paths', () => {
  const bad = desired({
    service: 'shop!',
    weights: { v1: 0, v9: 5, v2: -1 },
    mirror: { candidate: 'v7', filterConfig: {} },
  });
  bad.versions[1]!.endpoints.push({ address: '10.0.0.5', port: 70000 });

  assert.deepEqual(validateDesired(bad), [
    'service: must match [A-Za-z0-9._-]+',
    'versions[1].endpoints[1].port: must be 1..65535',
    'weights.v9: no such version',
    'weights.v2: must be a non-negative integer',
    'weights: must give some version a positive weight',
    'mirror.candidate: no such version v7',
  ]);
  assert.deepEqual(validateDesired(desired()), []);
  assert.deepEqual(validateDesired(desired({ weights: { v1: 0 } })), [
    'weights: must give some version a positive weight',
  ]);
});

test("a split sends the header's requests to its version (header removed), the rest by weight, the filter on both", () => {
  const split = { version: 'v2', header: 'x-umbra-arm' };
  const s = snap(desired({ split }), FILTER);
  const all = one(s, ROUTE_TYPE, 'shop-routes')['virtual_hosts'][0]['routes'];
  // Each route is rendered as two halves by method for its retries (retry.ts); the idempotent ones stand for both.
  // biome-ignore lint/suspicious/noExplicitAny: Envoy's route JSON
  const routes = all.filter((r: any) => !r['match']['headers'].some((h: any) => h['invert_match']));

  assert.equal(all.length, 4);
  assert.equal(routes.length, 2);
  const [toB, rest] = routes;
  assert.deepEqual(toB['match']['headers'][0], { name: 'x-umbra-arm', string_match: { exact: 'b' } });
  assert.equal(toB['route']['cluster'], 'shop-v2');
  assert.deepEqual(toB['request_headers_to_remove'], ['x-umbra-arm']);
  assert.equal(rest['match']['prefix'], '/');
  assert.equal(rest['match']['headers'].length, 1, 'the method alone');
  assert.deepEqual(
    rest['route']['weighted_clusters']['clusters'].map((c: { name: string }) => c.name),
    ['shop-v1'],
  );
  for (const r of routes) assert.ok(r['typed_per_filter_config']['umbra'], 'the filter runs on both routes');
  // Without the filter (a gRPC proxy), no split: the header is never set, so routes stay plain.
  const plain = one(snap(desired({ split }), { proxy: 'grpc' }), ROUTE_TYPE, 'shop-routes');
  assert.equal(plain['virtual_hosts'][0]['routes'].length, 1);
});

test('a split is checked: its version exists and has endpoints, its header is a header name, the filter is there', () => {
  const errors = (split: DesiredRouting['split'], over: Partial<DesiredRouting> = {}) =>
    validateDesired(desired({ split, ...over }));
  assert.deepEqual(errors({ version: 'v2', header: 'x-umbra-arm' }), []);
  assert.deepEqual(errors({ version: 'v9', header: 'x-umbra-arm' }), ['split.version: no such version v9']);
  assert.deepEqual(errors({ version: 'v2', header: 'X Arm' }), [
    'split.header: must be a lower-case header name',
  ]);
  const noEndpoints = desired().versions.map((v) => (v.name === 'v2' ? { ...v, endpoints: [] } : v));
  assert.deepEqual(errors({ version: 'v2', header: 'x-umbra-arm' }, { versions: noEndpoints }), [
    'split.version: version has no endpoints',
  ]);
  const { mirror: _none, ...noMirror } = desired();
  assert.deepEqual(validateDesired({ ...noMirror, split: { version: 'v2', header: 'x-umbra-arm' } }), [
    'split: needs mirror (the filter splits the users)',
  ]);
});

test('with several daemons the telemetry cluster lists them through EDS: a change of members touches EDS alone', () => {
  const members = (ports: number[]) => ({
    telemetry: {
      address: '10.0.0.9',
      port: 7001,
      members: ports.map((port) => ({ address: '10.0.1.1', port })),
    },
  });
  const three = snap(desired(members([7001, 7002, 7003])));
  const two = snap(desired(members([7001, 7003])));

  const cluster = one(three, CLUSTER_TYPE, 'umbra-telemetry');
  assert.equal(cluster['type'], 'EDS');
  assert.equal(cluster['load_assignment'], undefined);
  assert.deepEqual(cluster['eds_cluster_config'], { eds_config: { ads: {}, resource_api_version: 'V3' } });
  const ports = (s: ReturnType<typeof snap>) =>
    one(s, ENDPOINT_TYPE, 'umbra-telemetry')['endpoints'][0]['lb_endpoints'].map(
      (e: { endpoint: { address: { socket_address: { port_value: number } } } }) =>
        e.endpoint.address.socket_address.port_value,
    );
  assert.deepEqual(ports(three), [7001, 7002, 7003]);
  assert.deepEqual(ports(two), [7001, 7003]);
  // The cluster (CDS) is the same resource: Envoy keeps it, and the streams to the daemons that stay.
  assert.equal(three.types.get(CLUSTER_TYPE)!.version, two.types.get(CLUSTER_TYPE)!.version);
  assert.notEqual(three.types.get(ENDPOINT_TYPE)!.version, two.types.get(ENDPOINT_TYPE)!.version);
  // EDS takes IP addresses only.
  assert.deepEqual(
    validateDesired(
      desired({
        telemetry: { address: '10.0.0.9', port: 7001, members: [{ address: 'umbrad-b', port: 7001 }] },
      }),
    ),
    ['telemetry.members[0].address: must be an IP address (EDS resolves no host names)'],
  );
});
