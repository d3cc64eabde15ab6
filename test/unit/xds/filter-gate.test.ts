/**
 * Route gating of the Umbra filter: the listener carries it disabled, and
 * only the routes enable it (RDS), for every request or for a native
 * `runtime_fraction` sample (and a region header).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateDesired } from '../../../daemon/xds/resources/desired.js';
import { sharePpm } from '../../../daemon/xds/resources/filter-gate.js';
import type { Snapshot } from '../../../daemon/xds/snapshot.js';
import { LISTENER_TYPE, ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';
import { desired, FILTER, one, snap } from './render-fixtures.js';

const FILTER_CONFIG = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

/**
 * The routes as gated, one per gate step: each is rendered as two halves by
 * method for its retries (retry.ts, tested there), alike otherwise; the
 * idempotent half stands for both.
 */
// biome-ignore lint/suspicious/noExplicitAny: as above
function routes(s: Snapshot): any[] {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const all: any[] = one(s, ROUTE_TYPE, 'shop-routes')['virtual_hosts'][0]['routes'];
  // biome-ignore lint/suspicious/noExplicitAny: as above
  return all.filter((r) => !r['match']['headers']?.some((h: any) => h['invert_match']));
}

// biome-ignore lint/suspicious/noExplicitAny: as above
function enabled(route: any): boolean {
  const c = route['typed_per_filter_config']?.['umbra'];
  return c !== undefined && c['@type'] === FILTER_CONFIG && c['disabled'] !== true;
}

test('the listener carries the filter disabled; without a gate no route enables it', () => {
  const s = snap(desired(), FILTER);

  const hcm = one(s, LISTENER_TYPE, 'shop-in')['filter_chains'][0]['filters'][0]['typed_config'];
  assert.equal(hcm['http_filters'][0]['name'], 'umbra');
  assert.equal(hcm['http_filters'][0]['disabled'], true);
  assert.equal(routes(s).length, 1);
  assert.equal(enabled(routes(s)[0]), false);
});

test('turning the gate on or off changes the routes only, never the listener', () => {
  const off = snap(desired(), FILTER);
  const on = snap(desired({ filterGate: { share: 100 } }), FILTER);
  const sampled = snap(desired({ filterGate: { share: 5 } }), FILTER);

  const lds = (s: Snapshot) => s.types.get(LISTENER_TYPE)!.items.get('shop-in')!.value;
  assert.deepEqual(lds(on), lds(off));
  assert.deepEqual(lds(sampled), lds(off));
  assert.equal(routes(on).length, 1);
  assert.ok(enabled(routes(on)[0]), 'share 100: the one route enables the filter');
  assert.equal(routes(on)[0]['match']['runtime_fraction'], undefined);
});

test('a share below 100 is a runtime_fraction route with the filter, then the same route without', () => {
  const s = snap(desired({ filterGate: { share: 5.5 } }), FILTER);

  const [sampled, rest] = routes(s);
  assert.equal(routes(s).length, 2);
  assert.ok(enabled(sampled));
  assert.deepEqual(sampled['match']['runtime_fraction']['default_value'], {
    numerator: 55_000,
    denominator: 'MILLION',
  });
  assert.equal(enabled(rest), false);
  assert.equal(rest['match']['runtime_fraction'], undefined);
  assert.deepEqual(sampled['route'], rest['route'], 'both routes send traffic alike');
});

test('geographic: the listed regions enter at their share, every other request at the general one', () => {
  const gate = { share: 2, regions: { header: 'x-region', values: ['eu', 'us.east'], share: 12 } };
  const s = snap(desired({ filterGate: gate }), FILTER);

  const [region, general, rest] = routes(s);
  assert.equal(routes(s).length, 3);
  assert.ok(enabled(region) && enabled(general));
  assert.equal(enabled(rest), false);
  const header = region['match']['headers'][0];
  assert.equal(header['name'], 'x-region');
  assert.equal(header['string_match']['safe_regex']['regex'], '(?i)^(?:eu|us\\.east)$');
  assert.equal(region['match']['runtime_fraction']['default_value']['numerator'], 120_000);
  assert.equal(general['match']['runtime_fraction']['default_value']['numerator'], 20_000);
});

test('a sampled share keeps the weighted split: the numerator is a multiple of the total weight', () => {
  // Envoy draws both from one random value per request (filter-gate.ts NOTE).
  assert.equal(sharePpm(5, 100), 50_000);
  assert.equal(sharePpm(0.00333, 100), 0);
  assert.equal(sharePpm(0.0333, 100), 300);
  assert.equal(sharePpm(3.33333, 7), 33_333, 'a total that does not divide a million: as is');
  assert.equal(sharePpm(150, 100), 1_000_000);
});

test('no filter rendered (proxyless gRPC, no filter option): no route enables it', () => {
  const grpc = snap(desired({ filterGate: { share: 100 } }), { ...FILTER, proxy: 'grpc' });
  const none = snap(desired({ filterGate: { share: 100 } }), {});

  assert.equal(enabled(routes(grpc)[0]), false);
  assert.equal(routes(none).length, 1);
  assert.equal(enabled(routes(none)[0]), false);
});

test('an invalid gate is reported with paths', () => {
  const errors = validateDesired(
    desired({ filterGate: { share: 101, regions: { header: 'X Region', values: [''], share: -1 } } }),
  );

  assert.deepEqual(errors, [
    'filterGate.share: must be a number 0..100',
    'filterGate.regions.header: must be a lower-case header name',
    'filterGate.regions.values[0]: must be non-empty',
    'filterGate.regions.share: must be a number 0..100',
  ]);
});

test('every route that runs the filter outside a split removes the split header: a filter holding a share the daemon forgot never reaches an upstream with it', () => {
  for (const gate of [{ share: 100 }, { share: 5 }]) {
    const on = routes(snap(desired({ filterGate: gate }), FILTER)).filter(enabled);
    assert.ok(on.length > 0);
    for (const r of on) assert.deepEqual(r['request_headers_to_remove'], ['x-umbra-arm']);
  }
});
