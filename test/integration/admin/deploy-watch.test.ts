/**
 * `umbra deploy SERVICE VERSION --watch` as a person runs it (the real CLI in
 * a child process, not on a terminal) against the real daemon: it follows
 * the deployment until it ends and says how with its exit code, 0 promoted,
 * 3 rolled back. On the way, `umbra status --watch` names the daemon's live
 * page, which answers for that deployment. The deployments are moved on by operator commands (no
 * traffic flows here, so the judge has nothing to say).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AdminClient } from '../../../daemon/admin/client.js';
import { statusCommand } from '../../../daemon/cli/commands/status.js';
import { setLogLevel } from '../../../daemon/log.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import type { CommandName } from '../../../daemon/rollout/types.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { DEFAULT_PARTS_OPTIONS, defaultParts, startUmbrad } from '../../../daemon/umbrad.js';
import { inProcessConfig } from '../../harness/index.js';
import { runCaptured } from '../../unit/cli/capture.js';

setLogLevel('silent');
const TOKEN = 'deploy-watch-token';

/** Runs `umbra deploy SERVICE VERSION --watch` while `steer` runs; resolves with its exit code and output. */
function deployWatching(
  admin: string,
  version: string,
  steer: (done: () => boolean) => Promise<void>,
): Promise<{ code: number | null; out: string }> {
  const cli = join(projectRoot(), 'daemon', 'cli', 'dev.ts');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', cli, 'deploy', 'checkout', version, '--watch', '--admin', admin],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, UMBRA_ADMIN_TOKEN: TOKEN } },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  let exited = false;
  const exit = new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (c) => {
      exited = true;
      clearTimeout(timer);
      resolve(c);
    });
  });
  return Promise.all([exit, steer(() => exited)]).then(([code]) => ({ code, out }));
}

test('deploy --watch follows a deployment to its end: 0 promoted, 3 rolled back', {
  timeout: 240_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-deploy-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const endpoints = { endpoints: ['127.0.0.1:9'] };
  const config = inProcessConfig(
    dir,
    [
      {
        name: 'checkout',
        stable: 'v1',
        provisioner: { kind: 'static', versions: { v1: endpoints, v2: endpoints, v3: endpoints } },
        rollout: {
          shadowDuration: '30s',
          steps: [{ weight: 100, hold: '30s' }],
          bake: '30s',
          validationPeriod: '1s',
        },
      },
    ],
    { httpListen: '127.0.0.1:0' },
  );
  process.env['UMBRA_ADMIN_TOKEN'] = TOKEN;
  t.after(() => {
    delete process.env['UMBRA_ADMIN_TOKEN'];
  });
  const daemon = await startUmbrad(
    { config: config, store: openStore(':memory:') },
    defaultParts({
      ...DEFAULT_PARTS_OPTIONS,
      telemetryListen: '127.0.0.1:0',
      metricsListen: null,
    }),
  );
  t.after(() => daemon.stop());
  const admin = daemon.context.bound['admin']!;
  const client = new AdminClient({ address: admin, token: TOKEN });
  t.after(() => client.close());

  /** Sends `command` every 300 ms (refusals are expected between phases) until the watcher exits; bounded. */
  const keepSending = (command: CommandName) => async (done: () => boolean) => {
    for (let i = 0; i < 300 && !done(); i++) {
      await client.command('checkout', command).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
    }
  };

  const promoted = await deployWatching(admin, 'v2', keepSending('promote'));
  assert.equal(promoted.code, 0, promoted.out);
  assert.match(promoted.out, /deployment checkout-v2-\d+ is provisioning|is shadowing/);
  assert.match(promoted.out, / \| score \[/, 'plain lines carry the score bar');
  assert.match(promoted.out, /checkout v2 promoted: it serves 100%\n$/);

  // The live page of the same daemon: status --watch names it, and it serves the deployment.
  const watched = await runCaptured(['status', '--watch', '--count', '1', '--admin', admin], [statusCommand]);
  assert.equal(watched.code, 0, watched.stderr);
  const ui = /live page: (http:\/\/127\.0\.0\.1:\d+\/ui)\n/.exec(watched.stdout)?.[1];
  assert.ok(ui, watched.stdout);
  const live = await fetch(`${ui}/data`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(live.status, 200);
  const body = (await live.json()) as { report?: { deployment: { version: string } }; message?: string };
  // No traffic flowed: the daemon says so rather than drawing an empty page.
  assert.match(body.message ?? '', /no stored traffic/, JSON.stringify(body).slice(0, 300));

  const rolledBack = await deployWatching(admin, 'v3', keepSending('rollback'));
  assert.equal(rolledBack.code, 3, rolledBack.out);
  assert.match(rolledBack.out, /checkout v3 rolled_back: .*; the report: umbra report checkout-v3-\d+\n$/);
});
