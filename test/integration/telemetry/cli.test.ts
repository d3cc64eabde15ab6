/**
 * `umbra daemon --record` and `umbra replay` as processes: the daemon is
 * started from the CLI, fed over gRPC, stopped with SIGTERM, and its
 * recording replayed by the CLI.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { TOKEN_METADATA } from '../../../daemon/telemetry/server.js';
import { ARM_CANDIDATE, ARM_PRIMARY } from '../../../daemon/wire/record-contract.js';
import { freePorts } from '../../harness/index.js';
import { telemetryClient } from './grpc-client.js';

const ROOT = join(import.meta.dirname, '../../..');
const CLI = [process.execPath, '--import', 'tsx', join(ROOT, 'daemon/cli/dev.ts')] as const;

async function until(
  what: string,
  pred: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('umbra daemon records what it receives and umbra replay reads it back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [telemetryPort, metricsPort, xdsPort, adminPort] = await freePorts(4);
  const config = join(dir, 'umbra.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      daemon: {
        store: { path: join(dir, 'umbra.db') },
        // The daemon accepts records only from the proxies and for the services it configures.
        xds: { listen: `127.0.0.1:${xdsPort}`, nodes: ['envoy-1'] },
        telemetry: { tokenFile: join(dir, 'telemetry.token') },
        admin: { listen: `127.0.0.1:${adminPort}`, tokenFile: join(dir, 'admin.token') },
      },
      services: [
        {
          name: 'checkout',
          stable: 'v1',
          provisioner: { kind: 'static', versions: { v1: { endpoints: ['127.0.0.1:9'] } } },
        },
      ],
    }),
  );
  const rec = join(dir, 'telemetry.rec');
  const daemon: ChildProcess = spawn(
    CLI[0],
    [
      ...CLI.slice(1),
      'daemon',
      '--config',
      config,
      '--record',
      rec,
      '--telemetry',
      `127.0.0.1:${telemetryPort}`,
      '--metrics',
      `127.0.0.1:${metricsPort}`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, UMBRA_LOG_LEVEL: 'info' } },
  );
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
  });
  await until('the daemon to listen', () => log.includes('umbrad running'));

  // The daemon created its telemetry token; a filter presents it as initial metadata.
  const client = telemetryClient(telemetryPort);
  t.after(() => client.close());
  const metadata = new grpc.Metadata();
  metadata.set(TOKEN_METADATA, readFileSync(join(dir, 'telemetry.token'), 'utf8').trim());
  const call = client.Stream(metadata);
  call.on('error', () => {});
  const records = [];
  for (let i = 0; i < 20; i++) {
    records.push({
      requestId: Buffer.from(`r${i}`),
      arm: ARM_PRIMARY,
      endpoint: 1,
      status: 200,
      latencyUs: 100,
    });
    records.push({
      requestId: Buffer.from(`r${i}`),
      arm: ARM_CANDIDATE,
      endpoint: 1,
      status: i < 4 ? 500 : 200,
      latencyUs: 100,
    });
  }
  call.write({
    schemaVersion: 1,
    proxyId: 'envoy-1',
    service: 'checkout',
    sequence: 1,
    baseTimeUs: Date.now() * 1000,
    dict: [{ id: 1, value: 'GET /' }],
    records,
  });
  await until('the records to be counted', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return /^umbra_pairing_pairs_total 20$/m.test(text);
  });
  call.end();
  daemon.kill('SIGTERM');
  assert.equal(await exited, 0, log);

  const r = spawnSync(CLI[0], [...CLI.slice(1), 'replay', rec, '--pairs-only'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = lines.at(-1)!;
  assert.equal(summary['type'], 'summary');
  assert.equal(summary['records'], 40);
  assert.equal(summary['pairs'], 20);
  const pairs = lines.filter((l) => l['type'] === 'pairs');
  assert.equal(
    pairs.reduce((n, l) => n + (l['errors_shadow_only'] as number), 0),
    4,
  );
  assert.equal(lines.filter((l) => l['type'] === 'verdict').length, 0, '--pairs-only');

  const bad = spawnSync(CLI[0], [...CLI.slice(1), 'daemon', '--metrics', 'nowhere'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--metrics must be host:port/);
});
