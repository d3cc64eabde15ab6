import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Behaviour, drive, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { FLUSH_LOG_ARGS, filterBootstrap, startMirrorRig } from './fixture.js';
import { fnv1a64, type SeenRecord } from './telemetry-server.js';

const FLAG_TIMEOUT = 1;
const FLAG_RESET = 2;
const FLAG_CONNECT_FAILURE = 4;
const FLAG_BODY_TRUNCATED = 8;

test('production bytes and status stay identical whatever the shadow does (slow, 5xx, reset, 10 MB, down)', async (t) => {
  // Arrange: one Envoy mirroring everything; the candidate's behaviour changes per phase.
  const production = Buffer.alloc(50_000);
  for (let i = 0; i < production.length; i++) production[i] = (i * 31) % 256;
  const { candidate, telemetry, envoy } = await startMirrorRig(t, {
    name: 'shadow-failures',
    stable: (r): Behaviour => ({ status: r.path.endsWith('/404') ? 404 : 200, body: production }),
    candidate: {},
    filterConfig: { shadowPercentage: 100, flushIntervalMs: 100, shadowTimeoutMs: 1500 },
  });
  const phases: { name: string; behaviour: Behaviour | null; check: (shadow: SeenRecord) => void }[] = [
    { name: 'healthy', behaviour: { body: 'fine' }, check: (s) => assert.equal(s.status, 200) },
    {
      name: 'slow-10s',
      behaviour: { delayMs: 10_000, body: 'late' },
      check: (s) => {
        assert.equal(s.flags & FLAG_TIMEOUT, FLAG_TIMEOUT, 'timeout flag');
        assert.equal(s.status, 0);
        assert.ok(s.latencyUs >= 1_400_000 && s.latencyUs < 5_000_000, `latency ${s.latencyUs}`);
      },
    },
    {
      name: '5xx',
      behaviour: { status: 503, body: 'down for maintenance' },
      check: (s) => assert.equal(s.status, 503),
    },
    {
      name: 'reset',
      behaviour: { mode: 'reset' },
      check: (s) => {
        assert.notEqual(s.flags & (FLAG_RESET | FLAG_CONNECT_FAILURE), 0, `reset flags ${s.flags}`);
        assert.equal(s.status, 0);
      },
    },
    {
      name: '10MB',
      behaviour: { bodyBytes: 10 * 1024 * 1024 },
      check: (s) => {
        assert.equal(s.status, 200);
        assert.equal(s.responseBytes, 10 * 1024 * 1024);
        assert.equal(s.flags & FLAG_BODY_TRUNCATED, FLAG_BODY_TRUNCATED);
        assert.equal(s.bodyHash, fnv1a64(Buffer.alloc(1024 * 1024, 'x')), 'hash of the first 1 MiB');
      },
    },
    {
      name: 'down',
      behaviour: null,
      check: (s) => {
        assert.equal(s.flags & FLAG_CONNECT_FAILURE, FLAG_CONNECT_FAILURE, `flags ${s.flags}`);
        assert.equal(s.status, 0);
      },
    },
  ];

  for (const phase of phases) {
    if (phase.behaviour) candidate.setBehaviour(phase.behaviour);
    else await candidate.close();
    const base = telemetry.records.length;
    // Act: production requests while the shadow misbehaves.
    const res = await drive({
      url: `http://127.0.0.1:${envoy.listenerPort}/p/${phase.name}`,
      requests: 8,
      concurrency: 2,
      keepBodies: true,
      path: (i) => (i % 4 === 3 ? `/p/${phase.name}/404` : `/p/${phase.name}`),
    });
    // Assert: production answers are exactly the stable ones, and quick.
    assert.equal(res.errors, 0, phase.name);
    assert.equal(res.statuses[200], 6, phase.name);
    assert.equal(res.statuses[404], 2, phase.name);
    for (const body of res.bodies ?? [])
      assert.ok(body.equals(production), `${phase.name}: production body changed`);
    // Waiting for the shadow would take at least its timeout (1.5 s).
    const slowest = Math.max(...res.latenciesMs);
    assert.ok(slowest < 1400, `${phase.name}: production waited for the shadow (${slowest} ms)`);
    // The shadow's fate is recorded on its own arm.
    await waitFor(
      `${phase.name} shadow records`,
      () => telemetry.records.slice(base).filter((r) => r.arm === 'ARM_CANDIDATE').length >= 8,
      { timeoutMs: 15_000 },
    );
    const recs = telemetry.records.slice(base);
    for (const s of recs.filter((r) => r.arm === 'ARM_CANDIDATE')) phase.check(s);
    for (const p of recs.filter((r) => r.arm === 'ARM_PRIMARY')) {
      assert.equal(p.bodyHash, fnv1a64(production), `${phase.name}: primary hash`);
      assert.equal(p.responseBytes, production.length);
    }
  }
});

test('a dead shadow trips the breaker: mirroring rests (shadow_busy) and probes again after the cooldown', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const dead = await startUpstream(t, {});
  await dead.close();
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: dead.port,
    filterConfig: {
      shadowPercentage: 100,
      breakerFailures: 5,
      breakerCooldownMs: 1500,
      flushIntervalMs: 100,
    },
  });
  const envoy = await startEnvoy(t, { config: b.config, name: 'breaker', args: FLUSH_LOG_ARGS });
  const url = `http://127.0.0.1:${envoy.listenerPort}/x`;
  // One request at a time, paced so each shadow call has failed before the next.
  const paced = async (n: number): Promise<number> => {
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const r = await drive({ url, requests: 1 });
      ok += r.statuses[200] ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    return ok;
  };
  assert.equal(await paced(40), 40);
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', 40);
  // Five failures trip it (a failure that lands after the next request lets one more through).
  const mirrored = (await envoy.stat('wasmcustom.umbra.shop.mirrored')) ?? 0;
  assert.ok(mirrored >= 5 && mirrored <= 10, `mirroring stopped after 5 failures (mirrored ${mirrored})`);
  assert.equal(await envoy.stat('wasmcustom.umbra.shop.shadow_busy'), 40 - mirrored);
  await new Promise((r) => setTimeout(r, 1600)); // the breaker's cooldown (1500 ms) runs out
  assert.equal(await paced(10), 10);
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', 50);
  const after = (await envoy.stat('wasmcustom.umbra.shop.mirrored')) ?? 0;
  assert.ok(
    after - mirrored >= 5 && after - mirrored <= 10,
    `probed again after the cooldown (${after - mirrored})`,
  );
});
