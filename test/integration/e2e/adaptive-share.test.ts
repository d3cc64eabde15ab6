/**
 * Adaptive shadowing on the real thing: the daemon (`umbra daemon`), a real
 * Envoy and two static versions that answer alike. The share in force
 * follows the policy through the control stream: it starts at max, drops to
 * min once the candidate has been judged healthy and calm, pauses at 0 while
 * production itself fails, and resumes at max when production recovers.
 * Each change is in the deployment's history with its reason, the copies
 * that reach the candidate follow it, and the route Envoy runs never changes
 * (the share moves without an RDS push).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  drive,
  type EnvoyProcess,
  freePort,
  startUpstream,
  type Upstream,
  waitFor,
} from '../../harness/index.js';
import { connectAdmin, startDaemon, startProxy, staticShop } from './daemon.js';

/** The runtime fractions (ppm) of the service's routes as Envoy runs them. */
async function routeFractions(envoy: EnvoyProcess): Promise<number[]> {
  const dump = JSON.stringify(await envoy.configDump('?resource=dynamic_route_configs'));
  return [...dump.matchAll(/"runtime_fraction":\{"default_value":\{"numerator":(\d+)/g)].map((m) =>
    Number(m[1]),
  );
}

/**
 * Waits until the filters apply a new share (within a tick of their timer):
 * a batch of requests copied at a rate `accept` takes.
 */
function settled(
  url: string,
  v1: Upstream,
  v2: Upstream,
  accept: (ratio: number) => boolean,
): Promise<number> {
  return waitFor('the filters applying the share', () => copyRatio(url, v1, v2, 60), accept, {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
}

/** Copies per production request over `n` requests sent through Envoy. */
async function copyRatio(url: string, v1: Upstream, v2: Upstream, n: number): Promise<number> {
  const [p, c] = [v1.hits, v2.hits];
  await drive({ url, requests: n, concurrency: 2 });
  // Copies are sent when a request completes: let the last ones land.
  await waitFor('the last copies', async () => {
    const before = v2.hits;
    await new Promise((r) => setTimeout(r, 300));
    return v2.hits === before;
  });
  return (v2.hits - c) / Math.max(1, v1.hits - p);
}

test('the share in force follows the adaptive policy through the control stream', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 300_000,
}, async (t) => {
  // Arrange: two versions answering alike, adaptive 5..50 %, a quick judge.
  const v1 = await startUpstream(t, { body: 'same' });
  const v2 = await startUpstream(t, { body: 'same' });
  const listen = await freePort();
  const daemon = await startDaemon(t, {
    node: 'edge',
    services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    mirroring: { shadowPercentage: { adaptive: { min: 5, max: 50 } }, liveSample: 10 }
    judge: { warmup: 1s, minSamples: 20, anomalyThreshold: 2 }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 100, hold: 10m }]
`,
  });
  const client = await connectAdmin(t, daemon);
  const envoy = await startProxy(t, daemon, { name: 'adaptive-share' });
  const url = `http://127.0.0.1:${listen}/`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);
  const shares = async () =>
    ((await client.history('shop', 1))[0]?.transitions ?? [])
      .filter((x) => x.event === 'share')
      .map((x) => x.reason);
  /** Keeps traffic flowing until the history holds a share change matching `pattern`. */
  const shareChange = (pattern: RegExp) =>
    waitFor(
      `a share change matching ${pattern}`,
      async () => {
        await drive({ url, requests: 40, concurrency: 2 });
        return (await shares()).some((r) => pattern.test(r));
      },
      (found) => found,
      { timeoutMs: 90_000, intervalMs: 200 },
    );

  // Act 1: shadow v2; the phase begins at max.
  await client.deploy('shop', 'v2');
  await waitFor(
    'shadowing',
    async () => (await client.status('shop')).services[0]?.deployment?.phase === 'shadowing',
  );
  const fractions = await waitFor(
    'the gated route',
    () => routeFractions(envoy),
    (f) => f.length > 0,
  );
  await settled(url, v1, v2, (r) => r > 0.2);
  const atMax = await copyRatio(url, v1, v2, 300);

  // Assert 1: half the requests are copied; the route lets in max + live sample (60 %).
  // (Each route is rendered twice: idempotent methods and the rest carry different retries.)
  assert.deepEqual([...new Set(fractions)], [600_000], 'routes made for max 50 % + live sample 10 %');
  assert.ok(atMax > 0.35 && atMax < 0.65, `copies at max: ${atMax}`);

  // Act 2: calm and judged healthy → min.
  await shareChange(/^share 5%: judged healthy for \d+ s: holding 5%$/);
  await settled(url, v1, v2, (r) => r < 0.2);
  const atMin = await copyRatio(url, v1, v2, 400);
  const shown = (await client.status('shop')).services[0]?.deployment;

  // Assert 2: the filters copy about 5 %, and Envoy still runs the same route (no RDS push).
  assert.ok(atMin < 0.12, `copies at min: ${atMin}`);
  assert.deepEqual(await routeFractions(envoy), fractions);
  assert.equal(shown?.sharePercentage, 5, '`umbra status` shows the share in force');
  assert.match(shown?.shareReason ?? '', /^judged healthy for \d+ s: holding 5%$/);
  assert.deepEqual([shown?.shareMin, shown?.shareMax], [5, 50]);

  // Act 3: production itself fails → paused at 0.
  v1.setBehaviour({ status: 503, body: 'down' });
  await shareChange(/^share 0%: paused: production unhealthy/);
  await settled(url, v1, v2, (r) => r === 0);
  const paused = await copyRatio(url, v1, v2, 200);

  // Act 4: production recovers → back to max.
  v1.setBehaviour({ body: 'same' });
  await shareChange(/^share 50%: production healthy again: resuming at 50%$/);
  await settled(url, v1, v2, (r) => r > 0.2);
  const resumed = await copyRatio(url, v1, v2, 300);

  // Assert 3 and 4: no copies while paused; half again once resumed, on the same route.
  assert.equal(paused, 0, 'no copy reaches the candidate while production is unhealthy');
  assert.ok(resumed > 0.35, `copies after resuming: ${resumed}`);
  assert.deepEqual(await routeFractions(envoy), fractions);
  assert.equal((await client.status('shop')).services[0]?.deployment?.phase, 'shadowing');
});
