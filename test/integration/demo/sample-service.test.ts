/**
 * The demo's sample service as the process provisioner starts it: with
 * SAMPLE_SHADOW_COUNT_DIR set it keeps the number of mirrored copies it has
 * answered (`x-umbra-shadow: 1`) in a file of its own; other requests do not
 * count.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { drive, freePort, waitFor } from '../../harness/index.js';

test('the sample service counts the mirrored copies it answers in SAMPLE_SHADOW_COUNT_DIR', {
  timeout: 60_000,
}, async (t) => {
  // Arrange: one instance of v3 with a count directory.
  const dir = mkdtempSync(join(tmpdir(), 'umbra-sample-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(projectRoot(), 'demo', 'sample-service.ts')],
    {
      cwd: projectRoot(),
      stdio: 'ignore',
      env: { ...process.env, PORT: String(port), SAMPLE_VERSION: 'v3', SAMPLE_SHADOW_COUNT_DIR: dir },
    },
  );
  t.after(() => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}/catalog`;
  await waitFor('the sample service', async () => (await drive({ url, requests: 1 })).statuses[200]);

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
