/**
 * Dependencies in umbra.yaml: what a service's versions call, reached through
 * its egress listener; each instance is handed one URL per dependency.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dependencyEnv } from '../../../daemon/config/dependencies.js';
import { parseConfig } from '../../../daemon/config/load.js';

const shop = (extra: string) =>
  `services:\n  - { name: shop, stable: v1, ${extra}provisioner: { kind: static, versions: { v1: { endpoints: ["127.0.0.1:9001"] } } } }\n`;

function errorsOf(text: string): string[] {
  const r = parseConfig(text);
  return r.ok ? [] : r.errors;
}

test('each instance pool gets its own URL per dependency, under the egress listener', () => {
  const r = parseConfig(
    shop('egress: "0.0.0.0:15001", dependencies: { db: "10.0.0.5:5432", price-api: "prices:80" }, '),
  );
  assert.ok(r.ok);

  const env = dependencyEnv(r.config.services[0]!, 'v2', 'main');

  assert.deepEqual(env, {
    UMBRA_DEP_DB_URL: 'http://127.0.0.1:15001/shop/v2/main/db',
    UMBRA_DEP_PRICE_API_URL: 'http://127.0.0.1:15001/shop/v2/main/price-api',
  });
});

test('dependencies need an egress listener, and names that make one variable each', () => {
  assert.deepEqual(errorsOf(shop('dependencies: { db: "10.0.0.5:5432" }, ')), [
    'services[0].egress: required with dependencies',
  ]);
  assert.deepEqual(errorsOf(shop('egress: "127.0.0.1:15001", ')), [
    'services[0].egress: only with dependencies',
  ]);
  assert.deepEqual(
    errorsOf(shop('egress: "127.0.0.1:15001", dependencies: { a-b: "10.0.0.5:1", a_b: "10.0.0.5:2" }, ')),
    ["services[0].dependencies.a_b: same variable UMBRA_DEP_A_B_URL as 'a-b'"],
  );
  const bad = errorsOf(shop('egress: "127.0.0.1:15001", dependencies: { db: "nowhere" }, '));
  assert.ok(
    bad.includes('services[0].dependencies.db: must be host:port, e.g. 127.0.0.1:7070'),
    bad.join('; '),
  );
});

test('the egress listener may not take a port the daemon or a service listens on', () => {
  const errors = errorsOf(
    shop('listen: "127.0.0.1:15001", egress: "127.0.0.1:15001", dependencies: { db: "10.0.0.5:1" }, '),
  );
  assert.equal(errors.length, 1);
  assert.match(
    errors[0]!,
    /^services\[0\]\.egress: 127\.0\.0\.1:15001 is the same port as services\[0\]\.listen/,
  );
});
