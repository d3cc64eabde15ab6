import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { configCheckCommand } from '../../../daemon/cli/commands/config-check.js';
import { runCaptured } from './capture.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-config-check-'));
const bad = join(dir, 'bad.yaml');
writeFileSync(
  bad,
  'services: [{ name: a, stable: v1, provisioner: { kind: static, versions: { v1: { endpoints: ["127.0.0.1:1"] } } }, mirroring: { shadowPercentage: 101 } }]\n',
);

test('config check accepts the example file', async () => {
  const r = await runCaptured(['config', 'check', 'umbra.example.yaml'], [configCheckCommand]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /umbra\.example\.yaml: valid \(2 services: checkout, catalog\)/);
});

test('config check prints each error with its path and exits 1', async () => {
  const r = await runCaptured(['config', 'check', bad], [configCheckCommand]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid \(1 error\)/);
  assert.match(r.stderr, /services\[0\]\.mirroring\.shadowPercentage: must be 0\.\.100/);
});

test('config check -o json', async () => {
  const r = await runCaptured(['config', 'check', bad, '-o', 'json'], [configCheckCommand]);
  assert.equal(r.code, 1);
  assert.deepEqual(JSON.parse(r.stdout), {
    ok: false,
    file: bad,
    errors: ['services[0].mirroring.shadowPercentage: must be 0..100'],
  });
});

test('config check refuses a missing FILE and unknown flags', async () => {
  assert.equal((await runCaptured(['config', 'check'], [configCheckCommand])).code, 2);
  const r = await runCaptured(['config', 'check', 'x.yaml', '--strict'], [configCheckCommand]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown option '--strict'/);
});

test('config check covers the exec provisioner: each bad setting with its path', async () => {
  const file = join(dir, 'exec.yaml');
  writeFileSync(
    file,
    'services: [{ name: shop, stable: v1, provisioner: { kind: exec, command: [], probe: grpc, versions: { v1: {} } } }]\n',
  );
  const r = await runCaptured(['config', 'check', file, '-o', 'json', '--no-envoy'], [configCheckCommand]);
  assert.equal(r.code, 1);
  assert.deepEqual(JSON.parse(r.stdout).errors, [
    'services[0].provisioner.command: must name a program',
    'services[0].provisioner.probe: must be one of http, tcp, none',
  ]);
  writeFileSync(
    file,
    'services: [{ name: shop, stable: v1, provisioner: { kind: exec, command: [./deploy.sh], versions: { v1: {} } } }]\n',
  );
  const ok = await runCaptured(['config', 'check', file, '--no-envoy'], [configCheckCommand]);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /valid \(1 service: shop\)/);
});
