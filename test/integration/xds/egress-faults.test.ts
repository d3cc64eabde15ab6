/**
 * The egress listener on a real Envoy (1.40): faults ride on the routes of
 * the candidate's (and the baseline's) calls to a dependency alone, come and
 * go through RDS without touching the listener, and production's answers —
 * on its own listener and on its calls to the dependency — stay byte for byte
 * what they were.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { ResetSink } from '../../../daemon/controller/chaos-reset.js';
import type { DesiredEgress, DesiredFault, DesiredRouting } from '../../../daemon/xds/resources/desired.js';
import { egressPath } from '../../../daemon/xds/resources/names.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { LISTENER_TYPE } from '../../../daemon/xds/type-urls.js';
import { type Cleanup, drive, freePort, startUpstream, waitFor } from '../../harness/index.js';
import { type EnvoyRig, startRig } from './fixture.js';

interface EgressRig {
  rig: EnvoyRig;
  base: string;
  /** Routing of the service with these faults on its egress. */
  desired(faults: DesiredFault[]): DesiredRouting;
  dbHits(): number;
}

async function startEgressRig(t: Cleanup): Promise<EgressRig> {
  const rig = await startRig(t);
  const db = await startUpstream(t, { body: 'row 42: {"stock":7}' });
  const port = await freePort();
  const egress = (faults: DesiredFault[]): DesiredEgress => ({
    listener: { address: '127.0.0.1', port },
    dependencies: [{ name: 'db', endpoint: { address: '127.0.0.1', port: db.port } }],
    callers: [
      { version: 'v1', pool: 'main', role: 'production' },
      { version: 'v2', pool: 'main', role: 'candidate' },
      { version: 'v1', pool: 'baseline', role: 'baseline' },
    ],
    faults,
  });
  const desired = (faults: DesiredFault[]) => ({ ...rig.desired({ v1: 100 }), egress: egress(faults) });
  await rig.publish(renderService(desired([])));
  // NOTE: Envoy ACKs a new listener before its workers have bound the port.
  await waitFor('the egress listener accepts connections', () => accepts(port));
  return { rig, base: `http://127.0.0.1:${port}`, desired, dbHits: () => db.hits };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The statuses of the answers, then every body (hex): what a caller saw, byte for byte. */
async function answers(url: string, requests: number): Promise<string[]> {
  const r = await drive({ url, requests, concurrency: 2, keepBodies: true });
  assert.equal(r.errors, 0, `transport errors on ${url}`);
  return [JSON.stringify(r.statuses), ...r.bodies!.map((b) => b.toString('hex'))];
}

const at = (e: EgressRig, version: string, pool: string) =>
  `${e.base}${egressPath('shop', version, pool, 'db')}/items?id=7`;

test('an abort on the candidate egress: the candidate and baseline get it, production is byte-identical', async (t) => {
  const e = await startEgressRig(t);
  const lds = e.rig.xds.snapshot(e.rig.nodeId)!.types.get(LISTENER_TYPE)!.version;
  const prodBefore = await answers(at(e, 'v1', 'main'), 20);
  const userBefore = await answers(e.rig.url, 20);
  const candidateBefore = await drive({ url: at(e, 'v2', 'main'), requests: 10 });

  const s = await e.rig.publish(
    renderService(e.desired([{ dependency: 'db', percent: 100, abortStatus: 503 }])),
  );
  const hitsBefore = e.dbHits();
  const prodAfter = await answers(at(e, 'v1', 'main'), 20);
  const userAfter = await answers(e.rig.url, 20);
  const candidate = await drive({ url: at(e, 'v2', 'main'), requests: 10 });
  const baseline = await drive({ url: at(e, 'v1', 'baseline'), requests: 10 });
  const stats = await e.rig.envoy.stats();

  assert.deepEqual(candidateBefore.statuses, { 200: 10 }, 'no fault before the experiment');
  assert.deepEqual(prodAfter, prodBefore, "production's calls to db answer byte for byte as before");
  assert.deepEqual(userAfter, userBefore, "production's users get byte for byte what they got");
  assert.deepEqual(candidate.statuses, { 503: 10 });
  assert.deepEqual(baseline.statuses, { 503: 10 });
  assert.equal(e.dbHits() - hitsBefore, 20, 'only production reached db');
  assert.equal(stats['http.shop-egress.fault.aborts_injected'], 20);
  assert.equal(s.types.get(LISTENER_TYPE)!.version, lds, 'faults change RDS only');
});

test('a delay on the candidate egress slows its calls alone, and ends when the faults are gone', async (t) => {
  const e = await startEgressRig(t);
  await e.rig.publish(renderService(e.desired([{ dependency: 'db', percent: 100, delayMs: 400 }])));

  const candidate = await drive({ url: at(e, 'v2', 'main'), requests: 6, concurrency: 2 });
  const prod = await answers(at(e, 'v1', 'main'), 6);
  const delayed = (await e.rig.envoy.stats())['http.shop-egress.fault.delays_injected'];
  await e.rig.publish(renderService(e.desired([])));
  const after = await drive({ url: at(e, 'v2', 'main'), requests: 6, concurrency: 2 });
  const delayedAfter = (await e.rig.envoy.stats())['http.shop-egress.fault.delays_injected'];

  assert.deepEqual(candidate.statuses, { 200: 6 });
  // Envoy's timers fire within a couple of ms of the 400 ms (398 ms seen, measured from the client).
  assert.ok(Math.min(...candidate.latenciesMs) >= 360, `candidate latencies ${candidate.latenciesMs}`);
  assert.equal(prod[0], JSON.stringify({ 200: 6 }));
  assert.equal(delayed, 6, 'exactly the candidate calls were delayed');
  assert.deepEqual(after.statuses, { 200: 6 });
  assert.equal(delayedAfter, 6, 'no delay once the fault is withdrawn');
});

test('a reset on the candidate egress: its calls meet a real connection reset, production never does', async (t) => {
  const e = await startEgressRig(t);
  const sink = new ResetSink();
  t.after(() => sink.close());
  const reset = await sink.endpoint();
  const prodBefore = await answers(at(e, 'v1', 'main'), 20);
  const userBefore = await answers(e.rig.url, 20);

  await e.rig.publish(renderService(e.desired([{ dependency: 'db', percent: 100, reset }])));
  const hitsBefore = e.dbHits();
  const prodAfter = await answers(at(e, 'v1', 'main'), 20);
  const userAfter = await answers(e.rig.url, 20);
  const resetsBefore = sink.resets;
  const candidate = await drive({ url: at(e, 'v2', 'main'), requests: 10, keepBodies: true });
  const baseline = await drive({ url: at(e, 'v1', 'baseline'), requests: 10 });
  const resets = sink.resets - resetsBefore;
  const dbCalls = e.dbHits() - hitsBefore;
  await e.rig.publish(renderService(e.desired([{ dependency: 'db', percent: 50, reset }])));
  const half = await drive({ url: at(e, 'v2', 'main'), requests: 60, concurrency: 2 });

  assert.equal(resetsBefore, 0, "production's calls never reached the reset listener");
  assert.deepEqual(prodAfter, prodBefore, "production's calls to db answer byte for byte as before");
  assert.deepEqual(userAfter, userBefore, "production's users get byte for byte what they got");
  assert.equal(dbCalls, 20, 'only production reached db');
  assert.deepEqual(candidate.statuses, { 503: 10 });
  assert.match(candidate.bodies![0]!.toString(), /reset/, 'Envoy answers as for an upstream reset');
  assert.deepEqual(baseline.statuses, { 503: 10 });
  assert.equal(resets, 20, 'each faulted call was a connection the listener reset');
  // Half the calls reset, the others reach db: both are seen over 60 calls (each share misses with p = 2^-60).
  assert.ok((half.statuses[200] ?? 0) > 0 && (half.statuses[503] ?? 0) > 0, JSON.stringify(half.statuses));
});
