import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '../../../daemon/admin/client.js';
import { waitFor } from '../../harness/index.js';

const DAEMON = fileURLToPath(new URL('./fixtures/mini-daemon.ts', import.meta.url));
const TOKEN = 'restart-token';

const CONFIG = `
services:
  - name: checkout
    stable: v1
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:9001', '127.0.0.1:9002'] }
        v2: { endpoints: ['127.0.0.1:9101', '127.0.0.1:9102'] }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 30, hold: 3s }, { weight: 100, hold: 10m }]
      maxHoldExtensions: 0
      validationPeriod: 3s
`;

interface Daemon {
  child: ChildProcess;
  client: AdminClient;
}

/** Starts the mini daemon on the given database and waits for `ready <port>` (bounded). */
async function startDaemon(t: TestContext, config: string, db: string): Promise<Daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', DAEMON, config, db, TOKEN], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, UMBRA_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start: ${stderr}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      const m = /ready (\d+)/.exec(String(d));
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code}: ${stderr}`)));
  });
  const client = new AdminClient({ address: `127.0.0.1:${port}`, token: TOKEN });
  t.after(() => {
    client.close();
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, client };
}

async function kill(d: Daemon): Promise<void> {
  d.client.close();
  const exited = new Promise((r) => d.child.once('exit', r));
  d.child.kill('SIGKILL');
  await exited;
}

function setupFiles(): { config: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-restart-'));
  const config = join(dir, 'umbra.yaml');
  writeFileSync(config, CONFIG);
  return { config, db: join(dir, 'umbra.db') };
}

const status = async (c: AdminClient) => (await c.status('checkout')).services[0]!.deployment;

describe('a daemon killed with SIGKILL resumes its deployment', () => {
  test('in shadowing and when paused: same phase, same deadline, commands still work', async (t) => {
    const { config, db } = setupFiles();
    // First daemon: deploy, reach shadowing.
    let d = await startDaemon(t, config, db);
    await d.client.deploy('checkout', 'v2');
    const shadowing = await waitFor(
      'shadowing',
      () => status(d.client),
      (s) => s?.phase === 'shadowing',
      { timeoutMs: 10_000 },
    );
    await kill(d);
    // Second daemon: the deployment is where it was, its deadline unchanged.
    d = await startDaemon(t, config, db);
    let s = await status(d.client);
    assert.equal(s?.phase, 'shadowing');
    assert.equal(s?.deadlineMs, shadowing!.deadlineMs);
    // A deploy is still refused (one is in progress); pause works.
    await assert.rejects(d.client.deploy('checkout', 'v2'), /already has deployment/);
    await d.client.command('checkout', 'pause');
    await kill(d);
    // Third daemon: still paused; resume re-arms the time that was left.
    d = await startDaemon(t, config, db);
    s = await status(d.client);
    assert.equal(s?.paused, true);
    assert.equal(s?.deadlineMs, 0);
    s = (await d.client.command('checkout', 'resume')).deployment;
    assert.equal(s.deadlineTimer, 'shadow_end');
  });

  test('in promoting: the persisted step deadline fires after the restart', async (t) => {
    const { config, db } = setupFiles();
    let d = await startDaemon(t, config, db);
    await d.client.deploy('checkout', 'v2');
    await waitFor(
      'shadowing',
      () => status(d.client),
      (s) => s?.phase === 'shadowing',
      { timeoutMs: 10_000 },
    );
    const promoted = (await d.client.command('checkout', 'promote')).deployment;
    assert.equal(promoted.candidateWeight, 30);
    await kill(d);
    // Restarted: the 3 s hold ends without a healthy verdict and no extension is allowed: it pauses itself.
    d = await startDaemon(t, config, db);
    const s = await waitFor(
      'the hold to end',
      () => status(d.client),
      (x) => x?.paused === true,
      { timeoutMs: 15_000 },
    );
    assert.equal(s?.phase, 'promoting');
    assert.equal(s?.candidateWeight, 30);
    assert.match(s?.pausedReason ?? '', /not enough evidence/);
    assert.ok(Date.now() >= promoted.deadlineMs, 'not before the persisted deadline');
  });

  test('in validating: the validation period completes after the restart', async (t) => {
    const { config, db } = setupFiles();
    let d = await startDaemon(t, config, db);
    await d.client.deploy('checkout', 'v2');
    await waitFor(
      'shadowing',
      () => status(d.client),
      (s) => s?.phase === 'shadowing',
      { timeoutMs: 10_000 },
    );
    await d.client.command('checkout', 'rollback', 'test');
    await waitFor(
      'validating',
      () => status(d.client),
      (s) => s?.phase === 'validating',
      { timeoutMs: 10_000 },
    );
    await kill(d);
    d = await startDaemon(t, config, db);
    await waitFor(
      'rolled_back',
      () => status(d.client),
      (s) => s?.phase === 'rolled_back',
      { timeoutMs: 15_000 },
    );
    const h = await d.client.history('checkout');
    // The restart gave the validation's end a catch-up for the evidence buffered while down.
    assert.deepEqual(
      h[0]!.transitions.map((x) => `${x.to} ${x.event}`),
      [
        'provisioning deploy',
        'shadowing provisioned',
        'rolling_back command:rollback',
        'validating provisioned',
        'validating restarted',
        'rolled_back timer:validation_end',
      ],
    );
  });
});
