/**
 * A deployment through the overlay, on real Envoy: the upstream owns the
 * shop service's listener, routes and cluster; Umbra adds the filter (once),
 * the candidate and mirror clusters, and the weights while promoting and
 * rolling back; the upstream's own changes made meanwhile arrive merged.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import type { OverlayEdits } from '../../../daemon/xds/overlay/merge.js';
import { drive, freePort, startUpstream, waitFor } from '../../harness/index.js';
import { type ShopPorts, shopService, startOverlayRig, upstreamResources } from './fixture.js';

const wasmPath = join(projectRoot(), 'build', 'filter.wasm');
const skip = existsSync(wasmPath) ? false : 'build/filter.wasm is missing: run `npm run build:filter`';

test('shadow, promote and roll back through the overlay, with upstream changes merged on the way', {
  skip,
}, async (t) => {
  const v1 = await startUpstream(t, { body: 'v1' });
  const v1b = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const [listenerPort, telemetry] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${listenerPort}/`;
  const ports: ShopPorts = { v1: v1.port, v2: v2.port, telemetry };
  const edits = (weights: Record<string, number>): OverlayEdits => ({
    services: [shopService(ports, weights)],
    filter: { wasmPath, failOpen: true },
  });
  const shop = { name: 'shop', listenerPort, endpointPorts: [v1.port] };
  const rig = await startOverlayRig(t, { resources: upstreamResources([shop]), edits: edits({ v1: 100 }) });
  const settled = async (what: string) =>
    waitFor(what, async () => {
      const s = rig.xds.status(rig.nodeId);
      return s && Object.keys(s.snapshot).every((k) => s.acked[k] === s.snapshot[k]) ? s : undefined;
    });
  await settled('the first merge is ACKed');
  const listenerVersion = (await settled('ACKed')).acked['LDS'];

  // Shadowing: users stay on the upstream's v1, every request is mirrored to v2 by the filter.
  const shadow = await drive({ url, requests: 20, concurrency: 1 });
  await waitFor('20 mirrored copies reach v2', async () => (v2.hits >= 20 ? true : undefined));
  assert.deepEqual(shadow.statuses, { 200: 20 });
  assert.equal(v1.hits, 20);
  assert.ok(v2.requests.every((r) => r.headers['x-umbra-shadow'] === '1'));

  // Promoting: the upstream's route now splits between its cluster and Umbra's v2 cluster.
  rig.relay.setEdits(edits({ v1: 50, v2: 50 }));
  await settled('the 50/50 routes are ACKed');
  const beforeSplit = { v1: v1.hits, v2: v2.hits };
  await drive({ url, requests: 200, concurrency: 4 });
  const served = v2.requests.slice(beforeSplit.v2).filter((r) => r.headers['x-umbra-shadow'] !== '1').length;
  assert.ok(served >= 60 && served <= 140, `v2 served ${served} of 200 users`);

  // The upstream adds an endpoint to its cluster meanwhile: merged, the split stays.
  await rig.upstream.setSnapshot(
    rig.nodeId,
    '2',
    upstreamResources([{ ...shop, endpointPorts: [v1.port, v1b.port] }]),
  );
  await waitFor('the upstream ACK of version 2 for every type', async () => {
    const seen = await rig.upstream.requests();
    return new Set(seen.filter((r) => r.version_info === '2').map((r) => r.type_url)).size === 4
      ? true
      : undefined;
  });
  await settled('the merged version 2 is ACKed');
  const before = { v1: v1.hits + v1b.hits, v1b: v1b.hits };
  await drive({ url, requests: 200, concurrency: 4 });
  assert.ok(v1b.hits > before.v1b, "the upstream's new endpoint serves");
  const stable = v1.hits + v1b.hits - before.v1;
  assert.ok(stable >= 60 && stable <= 140, `the upstream's cluster served ${stable} of 200 users`);

  // Rolling back: the route is the upstream's own again.
  rig.relay.setEdits(edits({ v1: 100 }));
  const back = await settled('the rollback routes are ACKed');
  const v2Users = v2.requests.filter((r) => r.headers['x-umbra-shadow'] !== '1').length;
  await drive({ url, requests: 50, concurrency: 2 });
  assert.equal(
    v2.requests.filter((r) => r.headers['x-umbra-shadow'] !== '1').length,
    v2Users,
    'no user reaches v2 after the rollback',
  );
  assert.equal(back.acked['LDS'], listenerVersion, 'the listener was never touched during the deployment');
  assert.equal((await rig.envoy.stats())['listener_manager.listener_modified'] ?? 0, 0);
  assert.equal(back.lastNack, undefined);
});
