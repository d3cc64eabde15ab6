/**
 * Make-before-break against a real Envoy: the daemon's routing table flips a
 * service between versions (so a version's cluster comes and goes with its
 * weight) many times while kept-alive load runs through the listener, and no
 * request fails: no `no_cluster` 503, no Envoy-local answer.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import { RoutingTable } from '../../../daemon/controller/routing.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { createProvisioner } from '../../../daemon/provision/factory.js';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import { XdsServer } from '../../../daemon/xds/server.js';
import { freePort, startEnvoy, startKeptAliveLoad, startUpstream } from '../../harness/index.js';
import { staticShop } from '../e2e/daemon.js';

const FLIPS = 100;

test(`${FLIPS} weight flips that add and remove clusters under kept-alive load fail no request`, {
  timeout: 300_000,
}, async (t) => {
  // Arrange: two versions, the routing table the daemon uses, a real Envoy over ADS.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listen = await freePort();
  const xds = await XdsServer.start({ port: 0 });
  t.after(() => xds.close());
  const loaded = parseConfig(`daemon:
  telemetry: { listen: 127.0.0.1:9 } # no telemetry server here: the filters' stream reaches nobody
  xds: { listen: 127.0.0.1:${xds.port}, nodes: [flip-edge] }
  filter: { wasmPath: ${join(projectRoot(), 'build', 'filter.wasm')} }
services:
${staticShop(listen, { v1: v1.port, v2: v2.port })}`);
  assert.ok(loaded.ok, JSON.stringify(loaded));
  const config = loaded.config;
  const service = config.services[0]!;
  const prov = createProvisioner(service.provisioner, { service: 'shop' });
  await prov.ensure({ version: 'v1', pool: 'main' }, 1);
  await prov.ensure({ version: 'v2', pool: 'main' }, 1);
  const routing = new RoutingTable({ config, xds, provisioners: new Map([['shop', prov]]) });
  routing.setServing('shop', 'v1');
  await routing.publish();
  // Before the proxy connects, status knows what it wants but not what the proxy runs.
  assert.deepEqual(routing.proxies('shop'), [
    { nodeId: 'flip-edge', connected: false, desired: { v1: 100 }, acked: null, inSync: false },
  ]);
  await startEnvoy(t, {
    name: 'flips',
    concurrency: 2,
    config: adsBootstrap({
      nodeId: 'flip-edge',
      xdsHost: '127.0.0.1',
      xdsPort: xds.port,
      adminPort: 0,
    }),
  });
  // Envoy serves once it has ACKed the first snapshot.
  const s = xds.snapshot('flip-edge')!;
  for (const [type, r] of s.types) await xds.waitForAck('flip-edge', type, r.version, 30_000);

  // Act: flip between whole versions (each flip adds one cluster and removes the other) and splits.
  const load = startKeptAliveLoad(`http://127.0.0.1:${listen}/`, 4);
  const plans: Record<string, number>[] = [{ v2: 100 }, { v1: 100 }, { v1: 50, v2: 50 }, { v1: 100 }];
  try {
    for (let i = 0; i < FLIPS; i++) {
      await routing.apply({
        kind: 'route',
        service: 'shop',
        weights: plans[i % plans.length]!,
        mirror: null,
        filter: false,
      });
    }
  } finally {
    await load.stop();
  }

  // Assert: every request answered 200 by an upstream, and the last flip is what Envoy runs.
  assert.ok(load.total() > FLIPS, `load ran (${load.total()} requests)`);
  assert.deepEqual(load.failures, []);
  const status = xds.status('flip-edge')!;
  assert.deepEqual(status.acked, status.snapshot);
  const last = plans[(FLIPS - 1) % plans.length]!;
  assert.deepEqual(routing.proxies('shop'), [
    { nodeId: 'flip-edge', connected: true, desired: last, acked: last, inSync: true },
  ]);
});
