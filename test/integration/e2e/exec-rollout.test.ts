/**
 * A rollout end to end through the real daemon (`umbra daemon`) whose
 * versions are run by the exec provisioner: a real deploy script
 * (test/fixtures/exec/local-versions.mjs) starts the demo's sample service as
 * local processes, a real Envoy takes its configuration over ADS. v2 is
 * shadowed (copies reach the instances the script started), promoted and
 * completed, and the old version is stopped by the script; an instance that
 * dies behind the daemon's back is routed away from; then a version
 * whose command prints garbage fails to provision with an error naming the
 * place, while production answers every request.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { waitFor } from '../../harness/index.js';
import { connectAdmin, startDaemon, startProxy } from './daemon.js';
import { answers, execSetup, scriptCalls, scriptPids } from './exec.js';

/** Mirrored copies the instances of `version` have answered (their SAMPLE_SHADOW_COUNT_DIR files). */
function shadowCopies(dir: string, version: string): number {
  return readdirSync(dir)
    .filter((f) => f.startsWith(`shadow-${version}-`))
    .reduce((sum, f) => sum + Number(readFileSync(join(dir, f), 'utf8')), 0);
}

test('a deployment shadows, promotes and completes with versions run by a deploy script; garbage fails cleanly', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 300_000,
}, async (t) => {
  // Arrange: the daemon with the exec provisioner, Envoy over ADS.
  const { dir, setup, listen } = await execSetup(t, 'exec-edge', {
    versions: `        v1: {}
        v2: {}
        broken: { env: { EXEC_LIE: garbage } }`,
    extra: `    mirroring: { shadowPercentage: 100 }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 100, hold: 10m }]
      bake: 10m
      validationPeriod: 2s
      provisionTimeout: 60s
`,
  });
  const daemon = await startDaemon(t, setup);
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'exec-rollout' });
  const url = `http://127.0.0.1:${listen}/catalog`;
  const phase = async () => (await client.status('shop')).services[0]?.deployment?.phase;
  await waitFor(
    'Envoy serving v1 from the instances the script started',
    async () => ((await answers(url, 1))[0]?.version === 'v1' ? true : undefined),
    { timeoutMs: 60_000 },
  );
  assert.ok(scriptCalls(dir).includes('ensure v1 main 2 1'), 'the daemon ensured v1 through the script');

  // Act 1: deploy v2; it is shadowed.
  await client.deploy('shop', 'v2');
  await waitFor('shadowing', async () => ((await phase()) === 'shadowing' ? true : undefined), {
    timeoutMs: 60_000,
  });
  const whileShadowing: { status: number; version: string | null }[] = [];
  await waitFor('copies reaching v2', async () => {
    whileShadowing.push(...(await answers(url, 5)));
    return shadowCopies(dir, 'v2') > 0 ? true : undefined;
  });
  assert.deepEqual(
    whileShadowing.filter((a) => a.status !== 200 || a.version !== 'v1'),
    [],
    'users see v1 only',
  );

  // Act 2: promote through the step and the bake.
  for (const expected of ['promoting', 'baking', 'completed']) {
    await client.command('shop', 'promote');
    await waitFor(expected, async () => ((await phase()) === expected ? true : undefined), {
      timeoutMs: 60_000,
    });
  }

  // Assert 2: users get v2; the script was asked to stop v1.
  await waitFor('Envoy serving v2', async () =>
    (await answers(url, 10)).every((a) => a.status === 200 && a.version === 'v2') ? true : undefined,
  );
  await waitFor('v1 stopped by the script', async () =>
    scriptCalls(dir).includes('stop v1 main 0 1') && scriptPids(dir, 'v1').length === 0 ? true : undefined,
  );

  // Act 3: one v2 instance dies behind the daemon's back.
  const [dead] = scriptPids(dir, 'v2');
  process.kill(-dead!, 'SIGKILL');

  // Assert 3: the script's status no longer lists it, and users are served by the one left (at once:
  // a refused connection is retried on the other instance, so all-200 does not wait for the status).
  const v2Pools = async () =>
    ((await client.status('shop')).services[0]?.pools ?? [])
      .filter((p) => p.version === 'v2')
      .map((p) => [p.pool, p.ready, p.desired]);
  await waitFor('the dead instance out of the pool', async () =>
    JSON.stringify(await v2Pools()) === JSON.stringify([['main', 1, 2]]) ? true : undefined,
  );
  assert.deepEqual(await v2Pools(), [['main', 1, 2]]);
  assert.ok((await answers(url, 10)).every((a) => a.status === 200 && a.version === 'v2'));

  // Act 4: a version whose command prints garbage, while production is served.
  const served: { status: number; version: string | null }[] = [];
  let loading = true;
  const load = (async () => {
    for (let i = 0; i < 10_000 && loading; i++) served.push(...(await answers(url, 1)));
  })();
  await client.deploy('shop', 'broken');
  const failed = await waitFor(
    'the broken deployment to end',
    async () => {
      const d = (await client.status('shop')).services[0]?.deployment;
      return d?.version === 'broken' && ['rolled_back', 'rollback_failed'].includes(d.phase) ? d : undefined;
    },
    { timeoutMs: 60_000 },
  );
  loading = false;
  await load;

  // Assert 4: the error names the command and the place in its output; production never noticed.
  assert.match(
    failed.lastError,
    /the ensure command \(.*local-versions\.mjs\) broke the output contract: stdout: not JSON \("deployment\.apps\/shop-broken configured"\)/,
  );
  assert.equal(failed.phase, 'rolled_back');
  assert.ok(served.length > 0);
  assert.deepEqual(
    served.filter((a) => a.status !== 200 || a.version !== 'v2'),
    [],
    'every request during the broken deployment answered 200 by v2',
  );
});
