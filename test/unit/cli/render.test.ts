import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceStatusView } from '../../../daemon/admin/port.js';
import { view } from '../../../daemon/admin/rollout-backend.js';
import { outputFlag, table } from '../../../daemon/cli/commands/output.js';
import { phaseText, renderHistory, renderStatus } from '../../../daemon/cli/commands/render.js';
import { step } from '../../../daemon/rollout/machine.js';
import { ev, promotingAt, shadowing, T0 } from '../rollout/fixtures.js';

const idle: ServiceStatusView = {
  name: 'catalog',
  stableVersion: 'v7',
  deployment: null,
  verdict: '',
  verdictReason: '',
  score: 0,
  threshold: 3,
  culprits: [],
  pairs: 0,
  evidence: [],
  hasPrediction: false,
  predictedSecondsToThreshold: 0,
  pools: [],
  refusals: [],
  proxies: [],
  missingShadows: 0,
  model: [],
  journeys: [],
};

test('-o accepts json and text only', () => {
  assert.equal(outputFlag(undefined), false);
  assert.equal(outputFlag('text'), false);
  assert.equal(outputFlag('json'), true);
  assert.throws(() => outputFlag('yaml'), /-o must be json or text \(got yaml\)/);
});

test('table pads every column but the last', () => {
  assert.equal(
    table([
      ['A', 'BB', 'C'],
      ['aaa', 'b', 'c'],
    ]),
    'A    BB  C\naaa  b   c',
  );
});

test('phase text shows the step and a pause', () => {
  assert.equal(phaseText(view(promotingAt(1).state)), 'promoting 2/3');
  const paused = step(shadowing(), ev.command('pause', T0 + 2000)).state;
  assert.equal(phaseText(view(paused)), 'shadowing (paused: operator pause)');
});

test('status of a service rolling back shows the reason and the culprits', () => {
  const back = step(shadowing(), ev.verdict('rollback', T0 + 5000)).state;
  const out = renderStatus(
    [
      {
        ...idle,
        name: 'checkout',
        stableVersion: 'v1',
        deployment: view(back),
        verdict: 'rollback',
        score: 3.4,
        culprits: ['GET /pay eu-west errors'],
      },
      idle,
    ],
    T0 + 5000,
  );
  const lines = out.split('\n');
  assert.match(
    lines[1]!,
    /^checkout\s+v1\s+v2\s+rolling_back\s+0%\s+3\.40\/3\s+rollback\s+-\s+capacity_timeout in 45s$/,
  );
  assert.match(lines[2]!, /^catalog\s+v7\s+-\s+idle\s+-\s+-\s+-\s+-\s+-$/);
  assert.match(
    out,
    /checkout: rollback: judge: anomaly score 3\.40 ≥ 3 \(GET \/pay eu-west errors\) \(decision 7: umbra explain 7\)/,
  );
  assert.match(out, /checkout: culprits: GET \/pay eu-west errors/);
});

test('status shows telemetry loss and the parts of the model in force', () => {
  const out = renderStatus(
    [
      {
        ...idle,
        verdict: 'healthy',
        pairs: 970,
        missingShadows: 30,
        model: ['bodies of GET /a: history says deterministic, the present varies: not compared'],
      },
    ],
    T0,
  );
  assert.match(out, /catalog: telemetry loss: 30 shadow records missing \(3\.0 %\), not judged/);
  assert.match(
    out,
    /catalog: model: bodies of GET \/a: history says deterministic, the present varies: not compared/,
  );
});

test('an empty history says so', () => {
  assert.equal(renderHistory([]), 'no deployments');
});

test('status never shows a service idle while a proxy refuses its configuration', () => {
  const refusal = {
    node: 'edge-1',
    type: 'LDS',
    version: '3f2a',
    resources: ['catalog-ingress'],
    message: "Error adding/updating listener(s) catalog-ingress: cannot bind '127.0.0.1:8080'",
    atMs: T0,
  };
  const out = renderStatus([{ ...idle, refusals: [refusal] }], T0 + 1000);
  assert.doesNotMatch(out, /\bidle\b/);
  assert.match(out, /refused by proxy/);
  assert.match(
    out,
    /catalog: proxy edge-1 refuses LDS 3f2a \(catalog-ingress\) since .*: Error adding\/updating listener/,
  );
  // After a deployment ended, the phase column says so too.
  const aborted = step(shadowing(), ev.command('abort', T0 + 5000)).state;
  assert.match(
    renderStatus([{ ...idle, deployment: view(aborted), refusals: [refusal] }], T0),
    /refused by proxy \(after aborted\)/,
  );
});

test('status shows per proxy what it ACKed against what the daemon wants', () => {
  const s: ServiceStatusView = {
    ...idle,
    proxies: [
      {
        nodeId: 'edge-1',
        connected: true,
        inSync: false,
        desiredWeights: { v8: 25, v7: 75 },
        ackedWeights: { v7: 100 },
        hasAcked: true,
      },
      {
        nodeId: 'edge-2',
        connected: false,
        inSync: false,
        desiredWeights: { v7: 100 },
        ackedWeights: {},
        hasAcked: false,
      },
    ],
  };

  const out = renderStatus([s], T0);

  assert.match(out, /catalog proxies/);
  assert.match(out, /edge-1\s+pending\s+v7 100%\s+v7 75%, v8 25%/);
  assert.match(out, /edge-2\s+disconnected\s+nothing\s+v7 100%/);
});

test('status lists journeys with their counts and their last run step by step', () => {
  const arm = (version: string, status: number, failures: string[] = []) => ({
    version,
    status,
    latencyMs: 12.5,
    failures,
  });
  const out = renderStatus(
    [
      {
        ...idle,
        journeys: [
          {
            name: 'checkout',
            everyMs: 5000,
            runs: 12,
            oneSideFailed: 3,
            bothFailed: 1,
            overruns: 0,
            lastRun: 12,
            lastAtMs: T0,
            lastSteps: [
              { name: 'cart', primary: arm('v7', 200), candidate: arm('v8', 200) },
              {
                name: 'pay',
                primary: arm('v7', 200),
                candidate: arm('v8', 599, ['$.paid is false, expected true']),
              },
            ],
            lastStopped: 'step pay failed',
          },
        ],
      },
    ],
    T0,
  );
  assert.match(out, /catalog journeys:/);
  assert.match(out, /checkout +5s +12 +3 +1 +0 +#12 /);
  assert.match(out, /checkout\/pay +v7 200 12\.5ms +v8 599 12\.5ms: \$\.paid is false, expected true/);
  assert.match(out, /checkout: last run stopped early: step pay failed/);
});
