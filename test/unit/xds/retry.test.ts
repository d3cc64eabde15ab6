/**
 * Retries on production's routes (retry.ts): every route comes in two halves
 * by method, alike but for the method and the retry policy; idempotent
 * requests are also retried after a reset, others only when nothing reached
 * an instance; always on another host, twice at most. Proxyless gRPC routes
 * carry no Envoy retry conditions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RETRY_ON } from '../../../daemon/xds/resources/retry.js';
import type { Snapshot } from '../../../daemon/xds/snapshot.js';
import { CLUSTER_TYPE, ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';
import { desired, FILTER, one, snap } from './render-fixtures.js';

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf trees are walked by field name
function routes(s: Snapshot): any[] {
  return one(s, ROUTE_TYPE, 'shop-routes')['virtual_hosts'][0]['routes'];
}

test('each route is split by method: idempotent requests first, then the rest, alike otherwise', () => {
  for (const over of [
    {},
    { filterGate: { share: 5 } },
    { split: { version: 'v2', header: 'x-umbra-arm' } },
  ]) {
    const all = routes(snap(desired(over), FILTER));
    assert.equal(all.length % 2, 0);
    for (let i = 0; i < all.length; i += 2) {
      const [idempotent, other] = [all[i], all[i + 1]];
      const method = (r: typeof idempotent) => r['match']['headers'].at(-1);
      assert.equal(method(idempotent)['name'], ':method');
      assert.equal(method(idempotent)['string_match']['safe_regex']['regex'], '^(GET|HEAD|OPTIONS)$');
      assert.equal(method(idempotent)['invert_match'] ?? false, false);
      assert.equal(method(other)['invert_match'], true);
      assert.equal(idempotent['route']['retry_policy']['retry_on'], RETRY_ON.idempotent);
      assert.equal(other['route']['retry_policy']['retry_on'], RETRY_ON.other);
      const strip = (r: typeof idempotent) => ({
        ...r,
        match: { ...r['match'], headers: r['match']['headers'].slice(0, -1) },
        route: { ...r['route'], retry_policy: undefined },
      });
      assert.deepEqual(strip(idempotent), strip(other), JSON.stringify(over));
    }
  }
});

test('a write is retried only when it never reached an instance; every retry goes to another host', () => {
  const [idempotent, other] = routes(snap(desired(), FILTER));
  assert.ok(!RETRY_ON.other.split(',').includes('reset'));
  for (const r of [idempotent, other]) {
    const p = r['route']['retry_policy'];
    assert.equal(p['num_retries']['value'] ?? p['num_retries'], 2);
    assert.equal(p['retry_host_predicate'][0]['name'], 'envoy.retry_host_predicates.previous_hosts');
    assert.equal(p['per_try_timeout'], undefined, 'no per-try timeout: a slow answer is never cut');
  }
});

test('version clusters budget their retries; proxyless gRPC routes carry no retry policy', () => {
  const cluster = one(snap(desired(), FILTER), CLUSTER_TYPE, 'shop-v1');
  const budget = cluster['circuit_breakers']['thresholds'][0]['retry_budget'];
  assert.ok(budget['budget_percent']['value'] > 0);

  const grpc = routes(snap(desired(), { proxy: 'grpc' }));
  assert.equal(grpc.length, 1);
  assert.equal(grpc[0]['route']['retry_policy'], undefined);
});
