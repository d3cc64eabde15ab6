import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adsBootstrap, renderBootstrapText } from '../../../daemon/xds/bootstrap.js';
import { upstreamTlsSocket } from '../../../daemon/xds/resources/tls.js';

const VALUES = { nodeId: 'edge-1', xdsHost: '127.0.0.1', xdsPort: 18000, adminPort: 9901 };

test('the ADS bootstrap names the node, binds admin to loopback and gets LDS/CDS over ADS', () => {
  // biome-ignore lint/suspicious/noExplicitAny: a parsed YAML tree walked by field name
  const b = adsBootstrap(VALUES) as Record<string, any>;

  assert.deepEqual(b['node'], { id: 'edge-1', cluster: 'umbra' });
  assert.deepEqual(b['admin']['address']['socket_address'], { address: '127.0.0.1', port_value: 9901 });
  assert.deepEqual(b['dynamic_resources']['lds_config'], { ads: {}, resource_api_version: 'V3' });
  assert.deepEqual(b['dynamic_resources']['cds_config'], { ads: {}, resource_api_version: 'V3' });
  assert.deepEqual(b['dynamic_resources']['ads_config']['grpc_services'], [
    {
      envoy_grpc: {
        cluster_name: 'umbra-xds',
        // A returning daemon is reached within about a second (Envoy's default backoff grows to 30 s).
        retry_policy: { retry_back_off: { base_interval: '0.25s', max_interval: '1s' } },
      },
    },
  ]);
  const xds = b['static_resources']['clusters'][0];
  assert.equal(xds['name'], 'umbra-xds');
  assert.ok(
    xds['typed_extension_protocol_options']['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'],
  );
  assert.deepEqual(
    xds['load_assignment']['endpoints'][0]['lb_endpoints'][0]['endpoint']['address']['socket_address'],
    {
      address: '127.0.0.1',
      port_value: 18000,
    },
  );
});

test('no placeholder is left behind, and an unknown one is an error', () => {
  assert.doesNotMatch(renderBootstrapText(VALUES), /\$\{/);
  assert.throws(
    () => renderBootstrapText(VALUES, 'node: { id: $' + '{NODE_NAME} }'),
    /unknown placeholder \$\{NODE_NAME\}/,
  );
});

test('a node id that needs quoting in YAML survives', () => {
  const b = adsBootstrap({ ...VALUES, nodeId: 'edge: #1' }) as { node: { id: string } };

  assert.equal(b.node.id, 'edge: #1');
});

test("with TLS the xDS cluster trusts the given CA and checks the daemon's name", () => {
  const tls = { caFile: '/etc/envoy/umbra-ca.pem', serverName: 'umbrad.internal' };
  // biome-ignore lint/suspicious/noExplicitAny: a parsed YAML tree walked by field name
  const b = adsBootstrap({ ...VALUES, tls }) as Record<string, any>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const plain = adsBootstrap(VALUES) as Record<string, any>;

  const xds = b['static_resources']['clusters'][0];
  assert.equal(xds['transport_socket']['typed_config']['sni'], 'umbrad.internal');
  assert.deepEqual(xds['transport_socket'], upstreamTlsSocket(tls));
  assert.equal(plain['static_resources']['clusters'][0]['transport_socket'], undefined);
  assert.throws(
    () => adsBootstrap({ ...VALUES, tls: { ...tls, certFile: 'c.pem' } }),
    /tls\.keyFile: certFile and keyFile go together/,
  );
});

test('several daemons of one shared store are all endpoints of the xDS cluster, the first one first', () => {
  // biome-ignore lint/suspicious/noExplicitAny: a parsed YAML tree walked by field name
  const b = adsBootstrap({ ...VALUES, moreXds: [{ host: 'umbrad-b', port: 18001 }] }) as Record<string, any>;
  const lb = b['static_resources']['clusters'][0]['load_assignment']['endpoints'][0]['lb_endpoints'];
  assert.deepEqual(
    lb.map((e: { endpoint: { address: { socket_address: object } } }) => e.endpoint.address.socket_address),
    [
      { address: '127.0.0.1', port_value: 18000 },
      { address: 'umbrad-b', port_value: 18001 },
    ],
  );
});
