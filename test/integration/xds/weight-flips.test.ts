/**
 * Make-before-break against a real Envoy: the daemon's routing table flips a
 * service between versions (so a version's cluster comes and goes with its
 * weight) many times while kept-alive load runs through the listener, and no
 * request fails: no `no_cluster` 503, no Envoy-local answer.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import { RoutingTable } from '../../../daemon/controller/routing.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { createProvisioner } from '../../../daemon/provision/factory.js';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import { XdsServer } from '../../../daemon/xds/server.js';
import { freePorts, startEnvoy, startUpstream } from '../../harness/index.js';

const FLIPS = 100;

/** Kept-alive GETs from `workers` connections until `running()` is false; every answer that is not the upstream's 200. */
async function keptAliveLoad(url: string, workers: number, running: () => boolean) {
  const agent = new Agent({ keepAlive: true, maxSockets: workers });
  const failures: string[] = [];
  let ok = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request(url, { agent, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => {
          const by = String(res.headers['x-version'] ?? '');
          if (res.statusCode === 200 && by !== 'envoy') ok++;
          else if (failures.length < 50)
            failures.push(`${res.statusCode} ${by} ${res.headers['x-envoy-response-flags'] ?? ''}`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        if (failures.length < 50) failures.push(`error ${e.message}`);
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < 1_000_000 && running(); i++) await one();
    }),
  );
  agent.destroy();
  return { ok, failures };
}

test(`${FLIPS} weight flips that add and remove clusters under kept-alive load fail no request`, {
  timeout: 300_000,
}, async (t) => {
  // Arrange: two versions, the routing table the daemon uses, a real Envoy over ADS.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const [telemetry, listen, envoyAdmin] = await freePorts(3);
  const xds = await XdsServer.start({ port: 0 });
  t.after(() => xds.close());
  const loaded = parseConfig(`daemon:
  telemetry: { listen: 127.0.0.1:${telemetry} }
  xds: { listen: 127.0.0.1:${xds.port}, nodes: [flip-edge] }
  filter: { wasmPath: ${join(projectRoot(), 'build', 'filter.wasm')} }
services:
  - name: shop
    stable: v1
    listen: 127.0.0.1:${listen}
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:${v1.port}'] }
        v2: { endpoints: ['127.0.0.1:${v2.port}'] }
`);
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
      adminPort: envoyAdmin!,
    }),
  });
  // Envoy serves once it has ACKed the first snapshot.
  const s = xds.snapshot('flip-edge')!;
  for (const [type, r] of s.types) await xds.waitForAck('flip-edge', type, r.version, 30_000);

  // Act: flip between whole versions (each flip adds one cluster and removes the other) and splits.
  let running = true;
  const load = keptAliveLoad(`http://127.0.0.1:${listen}/`, 4, () => running);
  const plans: Record<string, number>[] = [{ v2: 100 }, { v1: 100 }, { v1: 50, v2: 50 }, { v1: 100 }];
  try {
    for (let i = 0; i < FLIPS; i++) {
      await routing.apply({
        kind: 'route',
        service: 'shop',
        weights: plans[i % plans.length]!,
        mirror: null,
      });
    }
  } finally {
    running = false;
  }
  const { ok, failures } = await load;

  // Assert: every request answered 200 by an upstream, and the last flip is what Envoy runs.
  assert.ok(ok > FLIPS, `load ran (${ok} requests)`);
  assert.deepEqual(failures, []);
  const status = xds.status('flip-edge')!;
  assert.deepEqual(status.acked, status.snapshot);
  const last = plans[(FLIPS - 1) % plans.length]!;
  assert.deepEqual(routing.proxies('shop'), [
    { nodeId: 'flip-edge', connected: true, desired: last, acked: last, inSync: true },
  ]);
});
