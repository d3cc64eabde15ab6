/**
 * A service that cannot be rendered for a moment (every instance of its
 * serving versions failed its checks) keeps what the proxies were last given:
 * leaving it out of a node's snapshot would remove its listener (xDS state of
 * the world), refusing every connection of a service whose instances may
 * still answer, while the other services of the node publish on.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import { RoutingTable } from '../../../daemon/controller/routing.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import type { Endpoint, PoolRef, Provisioner } from '../../../daemon/provision/provisioner.js';
import { decodeResource } from '../../../daemon/xds/encode.js';
import { XdsServer } from '../../../daemon/xds/server.js';
import { ENDPOINT_TYPE, LISTENER_TYPE } from '../../../daemon/xds/type-urls.js';

/** A provisioner whose healthy endpoints the test sets by version. */
function pools(initial: Record<string, Endpoint[]>) {
  const healthy = new Map(Object.entries(initial));
  const provisioner = {
    endpoints: (ref: PoolRef) => healthy.get(ref.version) ?? [],
  } as unknown as Provisioner;
  return { provisioner, set: (version: string, eps: Endpoint[]) => healthy.set(version, eps) };
}

function service(name: string, listen: number): string {
  return `  - name: ${name}
    stable: v1
    listen: 127.0.0.1:${listen}
    provisioner: { kind: static, versions: { v1: { endpoints: ['127.0.0.1:1'] } } }
`;
}

test('a service whose every instance turned unhealthy keeps its listener and last endpoints; the others publish on', async (t) => {
  const xds = await XdsServer.start({ port: 0 });
  t.after(() => xds.close());
  const loaded = parseConfig(`daemon:
  telemetry: { listen: 127.0.0.1:9 }
  xds: { listen: 127.0.0.1:${xds.port}, nodes: [edge] }
  filter: { wasmPath: ${join(projectRoot(), 'build', 'filter.wasm')} }
services:
${service('shop', 18001)}${service('cart', 18002)}`);
  assert.ok(loaded.ok, JSON.stringify(loaded));
  const shop = pools({ v1: [{ host: '127.0.0.1', port: 9101 }] });
  const cart = pools({ v1: [{ host: '127.0.0.1', port: 9201 }] });
  const routing = new RoutingTable({
    config: loaded.config,
    xds,
    provisioners: new Map([
      ['shop', shop.provisioner],
      ['cart', cart.provisioner],
    ]),
  });
  routing.setServing('shop', 'v1');
  routing.setServing('cart', 'v1');
  const listeners = () => [...(xds.snapshot('edge')?.types.get(LISTENER_TYPE)?.items.keys() ?? [])].sort();
  const ports = (cluster: string) => {
    const r = xds.snapshot('edge')?.types.get(ENDPOINT_TYPE)?.items.get(cluster);
    const o = r ? (decodeResource(r) as { endpoints?: { lb_endpoints?: unknown[] }[] }) : {};
    return JSON.stringify(o.endpoints ?? []).match(/"port_value":\d+/g) ?? [];
  };
  await routing.publish();
  assert.deepEqual(listeners(), ['cart-ingress', 'shop-ingress']);

  // Every instance of shop fails its checks; cart moves to a new instance.
  shop.set('v1', []);
  cart.set('v1', [{ host: '127.0.0.1', port: 9202 }]);
  await routing.publish();

  assert.deepEqual(listeners(), ['cart-ingress', 'shop-ingress'], 'shop keeps its listener');
  assert.deepEqual(ports('shop-v1'), ['"port_value":9101'], 'shop keeps its last endpoints');
  assert.deepEqual(ports('cart-v1'), ['"port_value":9202'], 'cart publishes on');

  // Shop's instance is healthy again, elsewhere: routing follows it.
  shop.set('v1', [{ host: '127.0.0.1', port: 9102 }]);
  await routing.publish();
  assert.deepEqual(ports('shop-v1'), ['"port_value":9102']);
});
