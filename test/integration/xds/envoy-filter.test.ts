/**
 * The rendered listener with the Umbra Wasm filter (build/filter.wasm, built by
 * `npm run build:filter`) in a real Envoy over ADS: the listener is ACKed,
 * users stay on the stable version, the candidate receives mirrored copies,
 * and a weight flip leaves the filter's listener untouched.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { LISTENER_TYPE } from '../../../daemon/xds/type-urls.js';
import { drive, waitFor } from '../../harness/index.js';
import { startRig } from './fixture.js';

const wasmPath = join(projectRoot(), 'build', 'filter.wasm');
const skip = existsSync(wasmPath) ? false : 'build/filter.wasm is missing: run `npm run build:filter`';

test('the Umbra filter arrives over LDS, mirrors to the candidate, and survives weight flips', {
  skip,
}, async (t) => {
  const render = { filter: { wasmPath, failOpen: false } };
  const mirror = { candidate: 'v2', filterConfig: { shadowPercentage: 100, shadowTimeoutMs: 2000 } };
  const rig = await startRig(t, { render, mirror, filterGate: { share: 100 } });
  const lds = rig.xds.status(rig.nodeId)!.acked['LDS'];

  const res = await drive({ url: rig.url, requests: 20, concurrency: 1 });
  await waitFor('20 copies at v2', () => rig.v2.hits >= 20, { timeoutMs: 5000 });
  await rig.publish(renderService(rig.desired({ v1: 50, v2: 50 }), render));

  assert.deepEqual(res.statuses, { 200: 20 });
  assert.equal(rig.v1.hits, 20, 'users are served by the stable version');
  assert.equal(rig.v2.hits, 20, 'every request was mirrored to the candidate');
  assert.ok(rig.v2.requests.every((r) => r.headers['x-umbra-shadow'] === '1'));
  assert.equal(rig.xds.snapshot(rig.nodeId)!.types.get(LISTENER_TYPE)!.version, lds);
  assert.equal(rig.xds.status(rig.nodeId)!.acked['LDS'], lds);
  assert.equal(rig.xds.status(rig.nodeId)!.lastNack, undefined);
});
