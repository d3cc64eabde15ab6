/**
 * Several daemons: a publish of the leader waits for the ACKs of the
 * proxies connected to other daemons (the versions they ACKed there, read
 * from the store) as for its own, within the same bound; not for a node
 * whose refusal stands there, nor for one connected nowhere; and a NACK of
 * the version published answers at once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import { RoutingRefused, RoutingTable } from '../../../daemon/controller/routing.js';
import { RemoteProxyTracker } from '../../../daemon/ha/remote-proxies.js';
import { setLogLevel } from '../../../daemon/log.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import type { Provisioner } from '../../../daemon/provision/provisioner.js';
import type { StoredXdsStream } from '../../../daemon/store/pg-shared-xds.js';
import { XdsServer } from '../../../daemon/xds/server.js';
import { LISTENER_TYPE, PUSH_ORDER, SHORT_NAME } from '../../../daemon/xds/type-urls.js';

setLogLevel('silent');

async function table(t: import('node:test').TestContext, rows: StoredXdsStream[]) {
  const xds = await XdsServer.start({ port: 0 });
  t.after(() => xds.close());
  const loaded = parseConfig(`daemon:
  telemetry: { listen: 127.0.0.1:9 }
  xds: { listen: 127.0.0.1:${xds.port}, nodes: [edge] }
  filter: { wasmPath: ${join(projectRoot(), 'build', 'filter.wasm')} }
services:
  - name: shop
    stable: v1
    listen: 127.0.0.1:18001
    provisioner: { kind: static, versions: { v1: { endpoints: ['127.0.0.1:1'] } } }
`);
  assert.ok(loaded.ok, JSON.stringify(loaded));
  let reads = 0;
  const remote = new RemoteProxyTracker(
    {
      streamsElsewhere: () => {
        reads++;
        return rows;
      },
    },
    2000,
    20,
  );
  const provisioner = { endpoints: () => [{ host: '127.0.0.1', port: 9101 }] } as unknown as Provisioner;
  const routing = new RoutingTable({
    config: loaded.config,
    xds,
    provisioners: new Map([['shop', provisioner]]),
    ackTimeoutMs: 300,
    remoteProxies: remote,
  });
  routing.setServing('shop', 'v1');
  /** What the node's snapshot holds now, by short type name (what it ACKs once it has it). */
  const current = () =>
    Object.fromEntries(
      PUSH_ORDER.map((type) => [SHORT_NAME[type], xds.snapshot('edge')?.types.get(type)?.version ?? '']),
    );
  return { xds, routing, current, reads: () => reads };
}

test('a publish waits for a proxy on another daemon until it ACKed every type there', async (t) => {
  const rows: StoredXdsStream[] = [{ node: 'edge', acked: {} }];
  const { routing, current } = await table(t, rows);
  let settled = false;
  const published = routing.publish().finally(() => {
    settled = true;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(settled, false, 'still waiting for the remote proxy');
  rows[0]!.acked = current();
  await published;
  // The same versions again: already ACKed there, nothing to wait for (no new ACK will come).
  await routing.publish();
});

test('the wait is bounded: no ACK in time is a refused routing', async (t) => {
  const { routing } = await table(t, [{ node: 'edge', acked: { CDS: 'old' } }]);
  await assert.rejects(routing.publish(), RoutingRefused);
});

test('not waited for: a node connected nowhere, or whose refusal stands where it is', async (t) => {
  const nowhere = await table(t, []);
  await nowhere.routing.publish();
  const nack = { nodeId: 'edge', typeUrl: LISTENER_TYPE, version: 'x', message: 'cannot bind' };
  const refusing = await table(t, [{ node: 'edge', acked: {}, nack }]);
  await refusing.routing.publish();
});

test('a NACK there of the version published answers the wait at once (it acts through the refusal handling)', async (t) => {
  const rows: StoredXdsStream[] = [{ node: 'other', acked: {} }];
  const { routing, current, xds } = await table(t, rows);
  await routing.publish();
  const lds = current()['LDS']!;
  // The node connects elsewhere and refuses the listener version published: not a failed publish.
  rows.push({ node: 'edge', acked: { ...current(), LDS: 'older' } });
  const published = routing.publish();
  rows[1]!.nack = { nodeId: 'edge', typeUrl: LISTENER_TYPE, version: lds, message: 'cannot bind' };
  const started = performance.now();
  await published;
  assert.ok(performance.now() - started < 250, 'answered before the 300 ms bound');
  assert.ok(xds.snapshot('edge'));
});

test('the leader’s view of a proxy connected to another daemon: connected, and in sync once it ACKed everything there', async (t) => {
  const rows: StoredXdsStream[] = [];
  const { routing, current } = await table(t, rows);
  await routing.publish();
  const [before] = routing.proxies('shop');
  assert.deepEqual(
    { connected: before!.connected, acked: before!.acked, inSync: before!.inSync },
    { connected: false, acked: null, inSync: false },
  );
  rows.push({ node: 'edge', acked: { ...current(), LDS: 'older' } });
  const [partly] = routing.proxies('shop');
  assert.equal(partly!.connected, true);
  assert.equal(partly!.inSync, false);
  // Its routes are the current ones: their weights are the desired ones.
  assert.deepEqual(partly!.acked, partly!.desired);
  assert.deepEqual(partly!.desired, { v1: 100 });
  rows[0]!.acked = current();
  assert.equal(routing.proxies('shop')[0]!.inSync, true);
  rows[0]!.acked = { ...current(), RDS: 'older' };
  assert.equal(routing.proxies('shop')[0]!.acked, null, 'older routes there: their weights are not known');
});
