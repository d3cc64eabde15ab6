/**
 * `npm run demo -- --experiments`, exactly as it runs: after the story, a
 * chaos experiment on shop v4 (no retry on its inventory dependency) with
 * 30 % of the shadow leg's inventory calls failed. Production must not feel
 * it (no user error, answers byte-identical); v4's resilience regression must
 * be found and named.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';

test('demo --experiments: chaos on the shadow leg finds the lost retry, production untouched', {
  timeout: 720_000,
}, async () => {
  const root = projectRoot();
  const run = join(root, 'dist', 'demo', 'run.js');
  assert.ok(existsSync(run), 'dist/demo/run.js missing: run `npm run build` first');
  const child = spawn(process.execPath, [run, '--ports', 'auto', '--experiments'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGTERM'), 660_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const lines = out.trim().split('\n');
  assert.equal(code, 0, `demo failed:\n${out.slice(-4000)}`);
  const result = JSON.parse(lines[lines.length - 1] ?? '') as {
    experiments: string;
    chaos: { production_errors: number; resilience_regression: boolean; culprit: string | null };
  };

  assert.equal(result.experiments, 'done');
  assert.equal(result.chaos.production_errors, 0, out.slice(-4000));
  assert.equal(result.chaos.resilience_regression, true, out.slice(-4000));
  assert.equal(result.chaos.culprit, '/cart/errors');
  // The story before it still ran to its end.
  assert.match(lines[lines.length - 2] ?? '', /^\{"demo":"done"/);
});
