/**
 * The real daemon killed while it shadows a healthy candidate and kept down
 * past the end of the shadow, with a real Envoy mirroring real traffic: the
 * restarted daemon does not promote on the verdict from before the crash; the
 * shadow's end waits for the evidence that arrives once the streams catch up.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { drive, freePort, startUpstream, waitFor } from '../../harness/index.js';
import { connectAdmin, restartDaemon, startDaemon, startProxy, staticShop } from './daemon.js';

test('a shadow that ended while the daemon was down is not promoted on the verdict from before', {
  timeout: 240_000,
}, async (t) => {
  // Arrange: v1 and an identical v2 behind static endpoints, a short shadow, Envoy over ADS, load.
  const v1 = await startUpstream(t, { body: 'same' });
  const v2 = await startUpstream(t, { body: 'same' });
  const listen = await freePort();
  let daemon = await startDaemon(t, {
    node: 'stale-edge',
    services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    mirroring: { shadowPercentage: 100 }
    judge: { minSamples: 20, warmup: 1s }
    rollout:
      shadowDuration: 20s
      steps: [{ weight: 50, hold: 10m }, { weight: 100, hold: 10m }]
`,
  });
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'stale', concurrency: 1 });
  const url = `http://127.0.0.1:${listen}/`;
  await waitFor('Envoy serving', async () => (await drive({ url, requests: 1 })).statuses[200]);
  let loading = true;
  const load = (async () => {
    for (let i = 0; i < 100_000 && loading; i++) await drive({ url, requests: 20, concurrency: 2 });
  })();
  t.after(async () => {
    loading = false;
    await load;
  });

  // Act 1: deploy v2; once the judge calls it healthy, kill the daemon and stay down past the shadow's end.
  const { deployment } = await client.deploy('shop', 'v2');
  const judged = await waitFor(
    'a healthy verdict while shadowing',
    async () => {
      const s = (await client.status('shop')).services[0];
      return s?.deployment?.phase === 'shadowing' && s.verdict === 'healthy' ? s : undefined;
    },
    { timeoutMs: 60_000 },
  );
  const shadowEnd = Number(judged.deployment!.deadlineMs);
  daemon.child.kill('SIGKILL');
  await new Promise((r) => daemon.child.once('exit', r));
  await new Promise((r) => setTimeout(r, Math.max(0, shadowEnd - Date.now()) + 2000)); // the shadow's end passes
  const restartedAt = Date.now();
  daemon = await restartDaemon(t, daemon);

  // Assert: the first thing the restarted daemon did was to move the deadline, not to promote
  // on the stale verdict…
  const history = await waitFor('a transition after the restart', async () => {
    const h = (await client.history('shop', 1))[0];
    return h?.transitions.some((tr) => Number(tr.atMs) >= restartedAt) ? h : undefined;
  });
  assert.equal(history.deployment?.id, deployment.id);
  const restarted = history.transitions.find((tr) => Number(tr.atMs) >= restartedAt)!;
  assert.deepEqual(
    [restarted.from, restarted.to, restarted.event],
    ['shadowing', 'shadowing', 'restarted'],
    `first transition after the restart: ${restarted.event} (${restarted.reason})`,
  );
  assert.match(restarted.reason, /shadow_end passed while the daemon was down/);
  // …and the promotion, when it comes, was decided at the new deadline on verdicts given since.
  const promoted = await waitFor(
    'promoting',
    async () => {
      const h = (await client.history('shop', 1))[0];
      return h?.transitions.find((tr) => tr.from === 'shadowing' && tr.to === 'promoting');
    },
    { timeoutMs: 90_000 },
  );
  assert.ok(
    Number(promoted.atMs) > Number(restarted.atMs) && Number(promoted.atMs) > restartedAt,
    'promoted only after the restart',
  );
  assert.equal(promoted.event, 'timer:shadow_end');
  assert.match(promoted.reason, /judged healthy/);
});
