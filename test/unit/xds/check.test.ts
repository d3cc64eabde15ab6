/**
 * Rendered resources are checked before they are pushed: what Envoy would
 * refuse (a filter setting the Umbra filter rejects, a Duration out of
 * range, a nameless resource, a filter naming a missing cluster) is never
 * published.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publishServices } from '../../../daemon/xds/publish.js';
import { checkRendered } from '../../../daemon/xds/resources/check.js';
import type { DesiredRouting } from '../../../daemon/xds/resources/desired.js';
import { filterConfigErrors } from '../../../daemon/xds/resources/filter-limits.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import type { Snapshot } from '../../../daemon/xds/snapshot.js';

function shop(filterConfig: Record<string, unknown> = {}): DesiredRouting {
  return {
    service: 'shop',
    listener: { name: 'shop-ingress', port: 10000, address: '127.0.0.1' },
    versions: [
      { name: 'v1', endpoints: [{ address: '127.0.0.1', port: 8080 }] },
      { name: 'umbra-mirror', endpoints: [] },
    ],
    weights: { v1: 1 },
    mirror: { candidate: 'umbra-mirror', filterConfig: { shadowPercentage: 0, ...filterConfig } },
    telemetry: { address: '127.0.0.1', port: 7001 },
  };
}

const options = { filter: { wasmPath: '/opt/umbra/filter.wasm' } };

test('the rendered configuration of a valid service passes', () => {
  assert.deepEqual(checkRendered(renderService(shop({ shadowTimeoutMs: 5000 }), options)), []);
});

test('a shadow timeout the filter refuses (20m, 0) is caught before any push', () => {
  for (const [ms, shown] of [
    [1_200_000, '1200000'],
    [0, '0'],
  ] as const) {
    const published: Snapshot[] = [];
    const sink = {
      setSnapshot(_n: string, s: Snapshot) {
        published.push(s);
        return {};
      },
    };
    const r = publishServices(sink, 'edge-1', [shop({ shadowTimeoutMs: ms })], options);
    assert.equal(r.ok, false);
    assert.match(
      (!r.ok && r.errors.join('\n')) || '',
      new RegExp(
        `^listeners\\[0\\]\\.filter_chains\\[0\\]\\.filters\\[0\\]\\.typed_config\\.http_filters\\[0\\]: umbra filter: shadowTimeoutMs: must be an integer 1\\.\\.600000 \\(got ${shown}\\)$`,
      ),
    );
    assert.equal(published.length, 0, 'nothing was published');
  }
});

test('durations out of range, nameless resources and missing filter clusters are reported with paths', () => {
  const input = renderService(shop(), options);
  const cluster = input.clusters![0] as Record<string, unknown>;
  cluster['connect_timeout'] = { seconds: 0, nanos: 0 };
  (input.routes![0] as { virtual_hosts: { routes: { route: { timeout: unknown } }[] }[] }).virtual_hosts[0]!
    .routes[0]!.route.timeout = { seconds: -1, nanos: 0 };
  (input.endpoints![0] as Record<string, unknown>)['cluster_name'] = '';
  input.clusters = input.clusters!.filter((c) => (c as { name: string }).name !== 'shop-umbra-mirror');

  const errors = checkRendered(input);

  assert.ok(errors.includes('clusters[0].connect_timeout: must be above zero'), errors.join('\n'));
  assert.ok(
    errors.includes(
      'routes[0].virtual_hosts[0].routes[0].route.timeout.seconds: must be an integer 0..315576000000 (got -1)',
    ),
    errors.join('\n'),
  );
  assert.ok(errors.some((e) => /^endpoints\[0\]: name must be non-empty/.test(e)));
  assert.ok(
    errors.some((e) => /umbra filter: candidateCluster: cluster shop-umbra-mirror does not exist$/.test(e)),
  );
});

test('the filter limits: unknown fields, fractions where integers are due, crossed reconnect bounds', () => {
  assert.deepEqual(
    filterConfigErrors({
      service: 's',
      candidateCluster: 'c',
      shadowPercentage: 12.5,
      maxBodyBytes: 1.5,
      reconnectMinMs: 500,
      reconnectMaxMs: 100,
      colour: 'blue',
    }),
    [
      'maxBodyBytes: must be an integer 0..67108864 (got 1.5)',
      'colour: unknown field',
      'reconnectMaxMs: must be >= reconnectMinMs',
    ],
  );
});
