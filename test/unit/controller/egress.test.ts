/**
 * The egress of a service with dependencies: who calls through it in which
 * role, and the property that matters most: whatever the route and whatever
 * faults are set, no rendered snapshot carries a fault on a route that
 * production's calls take.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import type { UmbraConfig } from '../../../daemon/config/schema.js';
import { callerRole } from '../../../daemon/controller/egress.js';
import { desiredRouting, type ServiceRoute } from '../../../daemon/controller/routing.js';
import { decodeResource } from '../../../daemon/xds/encode.js';
import type { DesiredFault } from '../../../daemon/xds/resources/desired.js';
import { validateDesired } from '../../../daemon/xds/resources/desired.js';
import { FAULT_FILTER_NAME } from '../../../daemon/xds/resources/egress.js';
import { dependencyCluster, resetCluster } from '../../../daemon/xds/resources/names.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { createSnapshot } from '../../../daemon/xds/snapshot.js';
import { LISTENER_TYPE, ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';
import { rng } from '../judge/sim.js';

const VERSIONS = ['v1', 'v2', 'v3'];
const RESET_SINK = { address: '127.0.0.1', port: 7999 };

function shopConfig(baseline: boolean): UmbraConfig {
  const parsed = parseConfig(`
services:
  - name: shop
    stable: v1
    egress: 127.0.0.1:15001
    dependencies: { db: '127.0.0.1:7000', pricing: 'pricing.internal:80' }
    mirroring: { baseline: ${baseline} }
    provisioner:
      kind: static
      versions:
${VERSIONS.map((v, i) => `        ${v}: { endpoints: ['127.0.0.1:${9001 + i}'] }`).join('\n')}
`);
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  return parsed.config;
}

function randomRoute(r: () => number): ServiceRoute {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const weights: Record<string, number> = {};
  for (const v of VERSIONS) if (r() < 0.5) weights[v] = pick([0, 1, 10, 50, 100]);
  if (!Object.values(weights).some((w) => w > 0)) weights[pick(VERSIONS)] = 100;
  const mirror = r() < 0.8 ? { target: pick(VERSIONS), baseline: pick([null, 'v1']), percentage: 50 } : null;
  const faults: DesiredFault[] = [];
  for (const dependency of ['db', 'pricing']) {
    if (r() < 0.6) faults.push({ dependency, percent: pick([1, 50, 100]), delayMs: pick([1, 200, 5000]) });
    if (r() < 0.6) faults.push({ dependency, percent: pick([5, 100]), abortStatus: pick([500, 503]) });
    if (r() < 0.5) faults.push({ dependency, percent: pick([0.5, 30, 100]), reset: RESET_SINK });
  }
  return { weights, mirror, filter: r() < 0.5, faults };
}

/** Routes of production's calls, decided apart from the code under test: a main pool that serves users, or that nothing mirrors to. */
function isProductionPool(route: ServiceRoute, version: string, pool: string): boolean {
  if (pool !== 'main') return false;
  return (route.weights[version] ?? 0) > 0 || route.mirror?.target !== version;
}

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf trees are walked by field name
type Decoded = Record<string, any>;

/** The clusters a decoded route sends to. */
function clustersOf(rt: Decoded): string[] {
  const action = rt['route'];
  return action['weighted_clusters']
    ? action['weighted_clusters']['clusters'].map((c: Decoded) => String(c['name']))
    : [String(action['cluster'])];
}

test('chaos faults never appear on production routes in any rendered xDS snapshot (500 random routes)', () => {
  const r = rng(20);
  const configs = [shopConfig(false), shopConfig(true)];
  let faulted = 0;
  let reset = 0;
  let production = 0;
  for (let i = 0; i < 500; i++) {
    const config = configs[r() < 0.5 ? 1 : 0]!;
    const route = randomRoute(r);
    const endpoints = () => [{ host: '127.0.0.1', port: 9001 }];
    const d = desiredRouting(config, config.services[0]!, route, endpoints);
    assert.deepEqual(validateDesired(d), [], `case ${i}`);
    const built = createSnapshot(renderService(d, { filter: { wasmPath: '/opt/umbra/filter.wasm' } }));
    assert.ok(built.ok, `case ${i}: ${built.ok ? '' : built.errors.join('; ')}`);
    const s = built.snapshot;

    const egress: Decoded = decodeResource(s.types.get(ROUTE_TYPE)!.items.get('shop-egress-routes')!);
    for (const rt of egress['virtual_hosts'][0]['routes']) {
      const [version, pool] = String(rt['name']).split('/') as [string, string];
      const dependency = String(rt['name']).split('/')[2]!;
      const fault = rt['typed_per_filter_config']?.[FAULT_FILTER_NAME];
      const clusters = clustersOf(rt);
      if (isProductionPool(route, version, pool)) {
        production++;
        assert.equal(fault, undefined, `case ${i}: a fault on production's route ${rt['name']}`);
        assert.deepEqual(
          clusters,
          [dependencyCluster('shop', dependency)],
          `case ${i}: ${rt['name']} is split`,
        );
      } else {
        if (fault) faulted++;
        if (clusters.includes(resetCluster('shop', dependency))) reset++;
      }
    }
    const ingress: Decoded = decodeResource(s.types.get(ROUTE_TYPE)!.items.get('shop-routes')!);
    for (const rt of ingress['virtual_hosts'][0]['routes'])
      assert.equal(rt['typed_per_filter_config']?.[FAULT_FILTER_NAME], undefined, `case ${i}: ingress`);
    const listener: Decoded = decodeResource(s.types.get(LISTENER_TYPE)!.items.get('shop-egress')!);
    const hcm = listener['filter_chains'][0]['filters'][0]['typed_config'];
    const filter = hcm['http_filters'].find((f: Decoded) => f['name'] === FAULT_FILTER_NAME);
    assert.equal(filter['disabled'], true, `case ${i}: the fault filter runs only where a route enables it`);
  }
  // Not vacuous: both kinds of routes were seen, and faults did land on the others.
  assert.ok(production > 250, `production routes seen: ${production}`);
  assert.ok(faulted > 120, `faulted candidate/baseline routes: ${faulted}`);
  assert.ok(reset > 100, `candidate/baseline routes towards a reset sink: ${reset}`);
});

test('roles follow the route: a promoted version is production at once, a baseline pool never is', () => {
  const shadowing = { weights: { v1: 100 }, mirror: { target: 'v2' } };
  const promoting = { weights: { v1: 75, v2: 25 }, mirror: { target: 'v2' } };
  const baking = { weights: { v2: 100 }, mirror: { target: 'v1' } };

  assert.equal(callerRole(shadowing, 'v2', 'main'), 'candidate');
  assert.equal(callerRole(shadowing, 'v1', 'main'), 'production');
  assert.equal(callerRole(shadowing, 'v1', 'baseline'), 'baseline');
  assert.equal(callerRole(promoting, 'v2', 'main'), 'production');
  assert.equal(callerRole(baking, 'v2', 'main'), 'production');
  assert.equal(callerRole({ weights: { v1: 100 }, mirror: null }, 'v2', 'main'), 'production');
});

test('a service without dependencies renders no egress', () => {
  const parsed = parseConfig(`
services:
  - name: shop
    stable: v1
    provisioner: { kind: static, versions: { v1: { endpoints: ['127.0.0.1:9001'] } } }
`);
  assert.ok(parsed.ok);
  const d = desiredRouting(parsed.config, parsed.config.services[0]!, randomRoute(rng(1)), () => []);
  assert.equal(d.egress, undefined);
});
