/**
 * The decoder's WebAssembly fast path is embedded as base64
 * (daemon/telemetry/generated/records-wasm.ts); it must be exactly what its
 * source (daemon/telemetry/wasm/records.ts) builds to, or an edit to the
 * source would silently not run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';

test('the embedded WebAssembly decoder is built from its source', () => {
  const r = spawnSync(process.execPath, ['scripts/build-records-wasm.mjs', '--check'], {
    cwd: projectRoot(),
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /matches/);
});
