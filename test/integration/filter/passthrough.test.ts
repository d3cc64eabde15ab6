import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { type Behaviour, runEnvoyToExit, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { FLUSH_LOG_ARGS, filterBootstrap } from './fixture.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function fetchRaw(url: string, method = 'GET', body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

test('the filter loads, logs its version and configuration, and passes requests through untouched', async (t) => {
  // Arrange: an upstream with varied answers, Envoy with the filter in front of it.
  const binary = Buffer.alloc(300_000);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 7919) % 251;
  const up = await startUpstream(t, (req): Behaviour => {
    if (req.path === '/binary')
      return { body: binary, headers: { 'content-type': 'application/octet-stream' } };
    if (req.path === '/missing') return { status: 404, body: 'nope', headers: { 'x-app': 'a' } };
    if (req.path === '/echo') return { body: req.body, headers: { 'x-len': String(req.body.length) } };
    return { status: 200, body: 'hello', headers: { 'x-app': 'shop' } };
  });
  const b = filterBootstrap({ stablePort: up.port, filterConfig: { shadowPercentage: 0 } });
  const envoy = await startEnvoy(t, { config: b.config, name: 'passthrough', args: FLUSH_LOG_ARGS });

  // Act + Assert: every answer through Envoy equals the direct one.
  const posted = Buffer.from('a'.repeat(100_000));
  for (const [path, method, body] of [
    ['/', 'GET', undefined],
    ['/binary', 'GET', undefined],
    ['/missing', 'GET', undefined],
    ['/echo', 'POST', posted],
  ] as const) {
    const direct = await fetchRaw(`${up.url}${path}`, method, body);
    const proxied = await fetchRaw(`http://127.0.0.1:${envoy.listenerPort}${path}`, method, body);
    assert.equal(proxied.status, direct.status, path);
    assert.ok(proxied.body.equals(direct.body), `${path}: body differs`);
    for (const h of ['content-type', 'x-app', 'x-len'])
      assert.equal(proxied.headers[h], direct.headers[h], `${path}: ${h}`);
  }
  const echoed = up.requests.filter((r) => r.path === '/echo');
  assert.equal(echoed.length, 2);
  assert.ok(echoed[1]!.body.equals(posted), 'request body reached the upstream intact');
  const started = /umbra filter \d+\.\d+\.\d+ configured: service=shop candidateCluster=candidate/;
  await waitFor('start-up log line with version and configuration', () => started.test(envoy.log()), {
    timeoutMs: 5000,
  });
});

test('Envoy refuses a broken filter configuration, naming the field path', async () => {
  const up = await startUpstream(undefined);
  try {
    for (const [filterConfig, expected] of [
      [{ shadowPercentage: 150 }, 'shadowPercentage: must be a number in 0..100'],
      [{ service: '' }, 'service: must not be empty'],
      [{ methods: ['GET', 3] }, 'methods[1]: must be a non-empty string'],
      [{ mirroringStrategy: 'geographic' }, 'regionHeader: is required by the geographic strategy'],
    ] as const) {
      const b = filterBootstrap({ stablePort: up.port, filterConfig });
      const { code, log } = await runEnvoyToExit({ config: b.config, timeoutMs: 20_000 });
      assert.notEqual(code, 0, 'envoy must exit with an error');
      assert.ok(
        log.includes(`umbra: invalid configuration: ${expected}`),
        `log lacks "${expected}":\n${log.slice(-2000)}`,
      );
    }
  } finally {
    await up.close();
  }
});
