/**
 * The journey runner against two real loopback HTTP servers (one per
 * version): steps go to both at once with the same inputs, each version
 * keeps the values its own answers gave, a failed step ends the run, a run
 * outliving its phase records nothing more, and the timeout bounds a step.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { compileJourney, type Journey, type JourneySource } from '../../../daemon/synthetic/journey.js';
import type { StepPair } from '../../../daemon/synthetic/run.js';
import { JourneyRunner, type JourneyTargets } from '../../../daemon/synthetic/runner.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function server(t: TestContext, handler: Handler): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const s: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body} ${req.headers['x-umbra-synthetic'] ?? ''}`.trim());
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    s.closeAllConnections();
    s.close();
  });
  return { port: (s.address() as AddressInfo).port, seen };
}

function journey(src: Partial<JourneySource> & Pick<JourneySource, 'steps'>): Journey {
  const c = compileJourney({ name: 'order', every: 60_000, timeout: 1000, variables: {}, ...src });
  assert.ok('journey' in c, JSON.stringify(c));
  return c.journey;
}

const step = (over: Partial<JourneySource['steps'][number]>): JourneySource['steps'][number] => ({
  name: 's',
  method: 'GET',
  path: '/',
  headers: {},
  extract: {},
  expect: { body: {} },
  ...over,
});

/** A runner over two targets, recording the pairs it feeds. */
function runner(j: Journey, ports: [number, number], targets?: () => JourneyTargets | undefined) {
  const pairs: StepPair[] = [];
  const holds: number[] = [];
  const t: JourneyTargets = {
    primary: { host: '127.0.0.1', port: ports[0], version: 'v1' },
    candidate: { host: '127.0.0.1', port: ports[1], version: 'v2' },
    key: 'd1:shadowing',
  };
  const r = new JourneyRunner({
    journeys: [j],
    targets: targets ?? (() => t),
    sink: {
      stepStarting: (us) => holds.push(us),
      pair: (_j, _run, p) => pairs.push(p),
      stepEnded: (us) => holds.splice(holds.indexOf(us), 1),
    },
  });
  return { r, pairs, holds, t };
}

/** A shop whose order ids differ per version: `POST /orders` answers `{"id": <prefix>-<n>}`. */
const shop =
  (prefix: string, total: number): Handler =>
  (req, body, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST') res.end(JSON.stringify({ id: `${prefix}-1`, echo: JSON.parse(body) }));
    else res.end(JSON.stringify({ path: req.url, total }));
  };

test('steps go to both versions with the same inputs; each keeps its own extracted values', async (t) => {
  const v1 = await server(t, shop('a', 42));
  const v2 = await server(t, shop('b', 42));
  const j = journey({
    variables: { user: 'u{{run}}' },
    steps: [
      step({
        name: 'create',
        method: 'POST',
        path: '/orders',
        body: '{"user":"{{user}}"}',
        extract: { id: '$.id' },
      }),
      step({ name: 'read', path: '/orders/{{id}}', expect: { body: { '$.total': 42 } } }),
    ],
  });
  const { r, pairs, holds } = runner(j, [v1.port, v2.port]);
  await r.runNow(0);
  assert.deepEqual(v1.seen, ['POST /orders {"user":"u1"} order/create #1', 'GET /orders/a-1  order/read #1']);
  assert.deepEqual(v2.seen, ['POST /orders {"user":"u1"} order/create #1', 'GET /orders/b-1  order/read #1']);
  assert.deepEqual(
    pairs.map((p) => [p.step, p.primary.status, p.candidate.status]),
    [
      ['create', 200, 200],
      ['read', 200, 200],
    ],
  );
  assert.equal(pairs[0]!.startUs <= pairs[1]!.startUs, true);
  assert.deepEqual(holds, [], 'every held second was released');
  const st = r.status()[0]!;
  assert.deepEqual([st.runs, st.oneSideFailed, st.bothFailed], [1, 0, 0]);
  assert.deepEqual(
    st.last!.steps.map((s) => [s.name, s.primary.version, s.candidate.version]),
    [
      ['create', 'v1', 'v2'],
      ['read', 'v1', 'v2'],
    ],
  );
});

test('a step failing on one version ends the run there, and is counted', async (t) => {
  const v1 = await server(t, shop('a', 42));
  const v2 = await server(t, shop('b', 0));
  const j = journey({
    steps: [step({ name: 'total', expect: { body: { '$.total': 42 } } }), step({ name: 'after' })],
  });
  const { r, pairs } = runner(j, [v1.port, v2.port]);
  await r.runNow(0);
  assert.equal(pairs.length, 1, 'the second step did not run');
  assert.deepEqual(pairs[0]!.candidate.failures, ['$.total is 0, expected 42']);
  assert.equal(pairs[0]!.candidate.status, 599);
  const st = r.status()[0]!;
  assert.deepEqual([st.oneSideFailed, st.bothFailed, st.last!.stopped], [1, 0, 'step total failed']);
});

test('no target, no run; a run outliving its phase records nothing more', async (t) => {
  const v1 = await server(t, shop('a', 42));
  const v2 = await server(t, shop('b', 42));
  const j = journey({ steps: [step({ name: 'one' }), step({ name: 'two' })] });
  let calls = 0;
  let current: JourneyTargets | undefined;
  const {
    r,
    pairs,
    t: targets,
  } = runner(j, [v1.port, v2.port], () => {
    calls += 1;
    return current;
  });
  await r.runNow(0);
  assert.deepEqual([v1.seen.length, r.status()[0]!.runs], [0, 0]);
  current = targets;
  // The phase changes after the first call (the run's start): its first step is not recorded.
  const run = r.runNow(0);
  current = { ...targets, key: 'd1:promoting' };
  await run;
  assert.equal(pairs.length, 0);
  assert.equal(v1.seen.length, 1, 'the run stopped after its first step');
  assert.ok(calls >= 2);
});

test('a version that never answers fails the step at the timeout; overlapping runs are skipped', async (t) => {
  const v1 = await server(t, shop('a', 42));
  const v2 = await server(t, () => {
    // never answers
  });
  const j = journey({ timeout: 200, steps: [step({ name: 'slow' })] });
  const { r, pairs } = runner(j, [v1.port, v2.port]);
  const first = r.runNow(0);
  await r.runNow(0);
  await first;
  assert.equal(r.status()[0]!.overruns, 1);
  assert.equal(pairs.length, 1);
  assert.deepEqual([pairs[0]!.candidate.status, pairs[0]!.candidate.failures], [0, ['no response: timeout']]);
  assert.ok(pairs[0]!.candidate.latencyUs >= 150_000 && pairs[0]!.candidate.latencyUs < 2_000_000);
  await r.stop();
});
