/**
 * Route gating on a real Envoy over ADS: the listener carries the Umbra
 * filter (build/filter.wasm) disabled, and only the routes turn it on and
 * off, through RDS alone. A service whose routes do not enable it gets no
 * filter at all (no copies, the filter's `requests` counter does not move);
 * flipping it under kept-alive load drains nothing and fails no request.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import type { DesiredFilterGate } from '../../../daemon/xds/resources/desired.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { startKeptAliveLoad, waitFor } from '../../harness/index.js';
import { type EnvoyRig, startRig } from './fixture.js';

const wasmPath = join(projectRoot(), 'build', 'filter.wasm');
const skip = existsSync(wasmPath) ? false : 'build/filter.wasm is missing: run `npm run build:filter`';
const render = { filter: { wasmPath, failOpen: false } };
// Every request that enters the filter is mirrored (GET): copies show exactly which ones entered.
const mirror = { candidate: 'v2', filterConfig: { shadowPercentage: 100, flushIntervalMs: 100 } };
const REQUESTS = 'wasmcustom.umbra.shop.requests';

/** Publishes the service's routes with `gate` (none: the filter stays off) and waits for the ACK. */
function setGate(rig: EnvoyRig, gate: DesiredFilterGate | undefined): Promise<unknown> {
  const d = rig.desired({ v1: 100 });
  return rig.publish(renderService(gate ? { ...d, filterGate: gate } : d, render));
}

/** GETs each path in turn on one kept-alive connection; answers the statuses. */
async function getAll(url: string, agent: Agent, paths: string[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const path of paths) {
    statuses.push(
      await new Promise<number>((resolve) => {
        const req = request(new URL(path, url), { agent, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve(0));
        req.end();
      }),
    );
  }
  return statuses;
}

const paths = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `/${prefix}/${i}`);

test('a service whose routes do not enable the filter gets none: no copies, the requests counter still', {
  skip,
  timeout: 120_000,
}, async (t) => {
  // Arrange: the listener with the filter, no gate (no deployment in progress).
  const rig = await startRig(t, { render, mirror });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const seen = (prefix: string) => rig.v2.requests.filter((r) => r.path.startsWith(`/${prefix}/`)).length;

  // Act: idle traffic, then the filter on for 30 requests, off for 50, and on for one marker.
  const idle = await getAll(rig.url, agent, paths('idle', 50));
  await setGate(rig, { share: 100 });
  const on = await getAll(rig.url, agent, paths('on', 30));
  await waitFor('30 copies while the filter is on', () => seen('on') === 30, { timeoutMs: 10_000 });
  await setGate(rig, undefined);
  const off = await getAll(rig.url, agent, paths('off', 50));
  await setGate(rig, { share: 100 });
  await getAll(rig.url, agent, ['/marker/0']);
  // Copies leave in request order: once the marker's has arrived, any of an earlier request has too.
  await waitFor("the marker's copy", () => seen('marker') === 1, { timeoutMs: 10_000 });
  const counted = await rig.envoy.waitForStat(REQUESTS, (v) => v >= 31, { timeoutMs: 10_000 });

  // Assert: production untouched; only the 31 requests on enabled routes entered the filter.
  assert.deepEqual(
    [...idle, ...on, ...off].filter((s) => s !== 200),
    [],
  );
  assert.equal(rig.v1.hits, 131, 'users are served by the stable version');
  assert.equal(seen('idle') + seen('off'), 0, 'no copy of a request on a route without the filter');
  assert.equal(counted, 31, "the filter's requests counter moved only for requests on enabled routes");
});

test('turning the filter on and off through RDS drains no listener and fails no kept-alive request', {
  skip,
  timeout: 180_000,
}, async (t) => {
  // Arrange: kept-alive load on two connections through the listener.
  const rig = await startRig(t, { render, mirror });
  const lds = rig.xds.status(rig.nodeId)!.acked['LDS'];
  const before = await rig.envoy.stats();
  const load = startKeptAliveLoad(rig.url, 2);
  t.after(() => load.stop());
  await waitFor('load to flow', () => load.total() >= 20, { timeoutMs: 10_000 });

  // Act: ten flips on and off, each held until the load has gone through it.
  try {
    for (let i = 0; i < 10; i++) {
      await setGate(rig, { share: 100 });
      const copies = rig.v2.hits;
      await waitFor(`copies after flip ${i} on`, () => rig.v2.hits >= copies + 5, { timeoutMs: 10_000 });
      await setGate(rig, undefined);
      const answered = load.total();
      await waitFor(`load after flip ${i} off`, () => load.total() >= answered + 20, { timeoutMs: 10_000 });
    }
  } finally {
    await load.stop();
  }

  // Assert: every request answered by the stable version; the two connections and the listener kept.
  const after = await rig.envoy.stats();
  const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
  assert.deepEqual(load.failures, []);
  assert.ok(load.total() > 200, `load ran (${load.total()} requests)`);
  assert.equal(delta('http.shop.downstream_cx_total'), 2, 'the load kept its two connections');
  assert.equal(after['listener_manager.total_listeners_draining'] ?? 0, 0);
  assert.equal(delta('listener_manager.listener_modified'), 0, 'no LDS change');
  assert.equal(rig.xds.status(rig.nodeId)!.acked['LDS'], lds);
  assert.ok(delta('http.shop.rds.shop-routes.config_reload') >= 20, 'each flip was an RDS update');
});
