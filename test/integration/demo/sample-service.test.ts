/**
 * The demo's sample service as the process provisioner starts it: with
 * SAMPLE_SHADOW_COUNT_DIR set it keeps the number of mirrored copies it has
 * answered (`x-umbra-shadow: 1`) in a file of its own; other requests do not
 * count. With an inventory URL, GET /cart asks it for stock and retries a
 * failed call, unless the version lost its retry (SAMPLE_RETRIES=0).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { type Cleanup, drive, freePort, startUpstream, waitFor } from '../../harness/index.js';

test('the sample service counts the mirrored copies it answers in SAMPLE_SHADOW_COUNT_DIR', {
  timeout: 60_000,
}, async (t) => {
  // Arrange: one instance of v3 with a count directory.
  const dir = mkdtempSync(join(tmpdir(), 'umbra-sample-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { port, origin } = await startSample(t, { SAMPLE_VERSION: 'v3', SAMPLE_SHADOW_COUNT_DIR: dir });
  const url = `${origin}/catalog`;

  // Act: 3 mirrored copies and 5 ordinary requests.
  const shadow = await drive({
    url,
    requests: 3,
    concurrency: 1,
    headers: () => ({ 'x-umbra-shadow': '1' }),
  });
  const plain = await drive({ url, requests: 5, concurrency: 1 });

  // Assert: every request answered; the file says 3.
  assert.deepEqual(shadow.statuses, { 200: 3 });
  assert.deepEqual(plain.statuses, { 200: 5 });
  const file = join(dir, `shadow-v3-${port}.count`);
  const count = await waitFor('the count file to say 3', async () => {
    const text = readFileSync(file, 'utf8');
    return text === '3' ? text : undefined;
  });
  assert.equal(count, '3');
});

/** One sample-service instance with this environment; resolves once it answers. */
async function startSample(t: Cleanup, env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(projectRoot(), 'demo', 'sample-service.ts')],
    {
      cwd: projectRoot(),
      stdio: 'ignore',
      env: { ...process.env, PORT: String(port), ...env },
    },
  );
  t.after(() => child.kill('SIGKILL'));
  const origin = `http://127.0.0.1:${port}`;
  await waitFor(
    'the sample service',
    async () => (await drive({ url: `${origin}/catalog`, requests: 1 })).statuses[200],
  );
  return { port, origin };
}

test('with an inventory, /cart retries a failed stock call; a version without the retry answers 503', {
  timeout: 60_000,
}, async (t) => {
  // Arrange: an inventory whose every other call fails (the first of each pair).
  const inventory = await startUpstream(t, { body: '[{"sku":"sku-0","left":3}]' });
  inventory.setBehaviour(() =>
    inventory.hits % 2 === 1 ? { status: 503 } : { body: '[{"sku":"sku-0","left":3}]' },
  );
  const env = { UMBRA_DEP_INVENTORY_URL: `${inventory.url}/shop/v1/main/inventory` };
  const retrying = (await startSample(t, { ...env, SAMPLE_VERSION: 'v1' })).origin;
  const noRetry = (await startSample(t, { ...env, SAMPLE_VERSION: 'v4', SAMPLE_RETRIES: '0' })).origin;

  // Act: one /cart each, each starting on a failing inventory call.
  const ok = await drive({
    url: `${retrying}/cart`,
    requests: 1,
    keepBodies: true,
    headers: () => ({ 'x-user': 'u' }),
  });
  const failed = await drive({ url: `${noRetry}/cart`, requests: 1, headers: () => ({ 'x-user': 'u' }) });

  // Assert: the retry hid the failure (with the stock in the body); no retry, no answer.
  assert.deepEqual(ok.statuses, { 200: 1 });
  assert.deepEqual(JSON.parse(ok.bodies![0]!.toString()).stock, [{ sku: 'sku-0', left: 3 }]);
  assert.deepEqual(failed.statuses, { 503: 1 });
  assert.ok(inventory.requests.every((r) => r.path.startsWith('/shop/v1/main/inventory/stock?items=')));
});
