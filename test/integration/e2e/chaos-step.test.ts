/**
 * A chaos step in a deployment, end to end: the real daemon, a real Envoy
 * over ADS, the sample service run by the process provisioner and an
 * inventory it calls through Umbra's egress listener. v2 lost its retry on
 * the inventory; the rollout's chaos step fails 30 % of the candidate's (and
 * the baseline's) inventory calls. With `failOn: resilience` the deployment
 * rolls back naming the fault and the culprit; report-only, it goes on to
 * promotion with the regression reported. Production's users get every
 * answer right throughout, and production's answers under the faults are
 * byte for byte what they were.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import type { AdminClient } from '../../../daemon/admin/client.js';
import type { TransitionView } from '../../../daemon/admin/port.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { startInventory } from '../../../demo/experiments/inventory.js';
import { drive, freePort, waitFor } from '../../harness/index.js';
import { connectAdmin, startDaemon, startProxy } from './daemon.js';

const SAMPLE = `'${process.execPath}', '--import', 'tsx', '${join(projectRoot(), 'demo', 'sample-service.ts')}'`;
const USERS = Array.from({ length: 12 }, (_, i) => `user-${i * 41}`);
const FAULT = 'inventory:abort=503@30%';

function shop(listen: number, egress: number, inventory: number, failOn: string): string {
  return `  - name: shop
    stable: v1
    listen: 127.0.0.1:${listen}
    egress: 127.0.0.1:${egress}
    dependencies: { inventory: 127.0.0.1:${inventory} }
    provisioner:
      kind: process
      replicas: 1
      versions:
        v1: { command: [${SAMPLE}], env: { SAMPLE_VERSION: v1 } }
        v2: { command: [${SAMPLE}], env: { SAMPLE_VERSION: v2, SAMPLE_RETRIES: "0" } }
    mirroring: { shadowPercentage: 100, baseline: true, timeout: 2s }
    judge: { anomalyThreshold: 2, minSamples: 50, warmup: 2s }
    rollout:
      shadowDuration: 8s
      steps: [{ weight: 100, hold: 30s }]
      provisionTimeout: 60s
      chaos:
        failOn: ${failOn}
        experiments: [{ faults: ['${FAULT}'], duration: 12s }]
`;
}

/** Users' load on production until stopped: every answer's status counted. */
function usersLoad(url: string): {
  statuses: Record<number, number>;
  errors: number;
  stop: () => Promise<void>;
} {
  const seen = { statuses: {} as Record<number, number>, errors: 0 };
  let running = true;
  const loop = (async () => {
    // Bounded: at most 2000 rounds of 20 requests (the test stops it long before).
    for (let round = 0; running && round < 2000; round++) {
      const r = await drive({
        url,
        requests: 20,
        concurrency: 4,
        headers: (i) => ({ 'x-user': USERS[i % USERS.length]!, 'x-region': ['eu', 'us', 'ap'][i % 3]! }),
      });
      seen.errors += r.errors;
      for (const [k, v] of Object.entries(r.statuses))
        seen.statuses[Number(k)] = (seen.statuses[Number(k)] ?? 0) + v;
    }
  })();
  return {
    get statuses() {
      return seen.statuses;
    },
    get errors() {
      return seen.errors;
    },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** The same production questions each time: each answer's status and bytes. */
async function productionAnswers(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const [i, user] of USERS.entries()) {
    const res = await fetch(`http://127.0.0.1:${port}/cart`, {
      headers: { 'x-user': user, 'x-region': ['eu', 'us', 'ap'][i % 3]! },
      signal: AbortSignal.timeout(5000),
    });
    out.push(`${user} ${res.status} ${Buffer.from(await res.arrayBuffer()).toString('base64')}`);
  }
  return out;
}

async function transitions(client: AdminClient): Promise<TransitionView[]> {
  return (await client.history('shop', 1))[0]?.transitions ?? [];
}

/** Deploys v2 with the chaos step and follows it: production checked before and under the faults. */
async function deployWithChaos(t: TestContext, failOn: string) {
  const inventory = await startInventory(await freePort());
  t.after(() => inventory.close());
  const [listen, egress] = [await freePort(), await freePort()];
  const daemon = await startDaemon(
    t,
    { node: 'edge', services: shop(listen, egress, inventory.port, failOn) },
    ['--metrics', 'off', '--stop-instances'],
  );
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: `chaos-step-${failOn}` });
  const url = `http://127.0.0.1:${listen}/cart`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200], {
    timeoutMs: 60_000,
  });
  await waitFor('v1 reaching the inventory', async () =>
    (await productionAnswers(listen)).every((a) => / 200 /.test(a)),
  );
  const before = await productionAnswers(listen);
  const users = usersLoad(url);
  t.after(() => users.stop());

  await client.deploy('shop', 'v2');
  const inStep = await waitFor(
    'the chaos step with its faults on',
    async () => {
      const d = (await client.status('shop')).services[0]?.deployment;
      if (d && d.phase !== 'shadowing' && d.phase !== 'provisioning') return d.phase;
      return (await transitions(client)).some((x) => x.reason.startsWith('chaos: faults on'))
        ? 'on'
        : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  assert.equal(inStep, 'on', 'the deployment entered its chaos step');
  const during = await productionAnswers(listen);
  const ended = await waitFor(
    'the chaos step to end',
    async () => {
      const d = (await client.status('shop')).services[0]?.deployment;
      return d && d.phase !== 'shadowing' ? d : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
  await users.stop();
  return {
    ended,
    before,
    during,
    users,
    history: await transitions(client),
    inventoryCalls: inventory.calls,
  };
}

const notOk = (statuses: Record<number, number>) =>
  Object.entries(statuses).reduce((n, [k, v]) => n + (k === '200' ? 0 : v), 0);

/** Users got every answer right, and production's answers under the faults were byte for byte as before. */
function productionUntouched(r: Awaited<ReturnType<typeof deployWithChaos>>): void {
  assert.deepEqual(
    r.during,
    r.before,
    "production's answers under the faults are byte for byte what they were",
  );
  assert.equal(notOk(r.users.statuses), 0, `users' answers: ${JSON.stringify(r.users.statuses)}`);
  assert.equal(r.users.errors, 0);
}

test('failOn resilience: a candidate that lost its retry fails its chaos step and rolls back; production untouched', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 300_000,
}, async (t) => {
  const r = await deployWithChaos(t, 'resilience');

  // Rolled back like any rollback: rolling_back, then validating once v1 serves everything again.
  assert.ok(['rolling_back', 'validating'].includes(r.ended.phase), JSON.stringify(r.history, null, 1));
  assert.match(
    r.ended.rollbackReason,
    /chaos experiment 1 \(inventory:abort=503@30%\): resilience regression at \/cart\/errors/,
  );
  assert.equal(r.ended.candidateWeight, 0, 'users never saw v2');
  productionUntouched(r);
});

test('report only: the same regression is reported and the deployment goes on to promotion', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 300_000,
}, async (t) => {
  const r = await deployWithChaos(t, 'report');

  assert.equal(r.ended.phase, 'promoting', JSON.stringify(r.history, null, 1));
  const done = r.history.find((x) => x.reason.startsWith('chaos step done'));
  assert.match(done?.reason ?? '', /resilience regression at \/cart\/errors.*\(reported\)/);
  productionUntouched(r);
});
