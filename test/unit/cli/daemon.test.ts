import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { daemonCommand } from '../../../daemon/cli/commands/daemon.js';
import { runCaptured } from './capture.js';

test('umbra daemon names an unreadable TLS file by its setting and starts nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-daemon-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'umbra.yaml');
  const store = join(dir, 'state', 'umbra.db');
  writeFileSync(
    config,
    [
      'daemon:',
      `  store: { path: ${JSON.stringify(store)} }`,
      '  xds:',
      `    tls: { certFile: ${JSON.stringify(join(dir, 'xds.pem'))}, keyFile: ${JSON.stringify(join(dir, 'xds.key'))} }`,
    ].join('\n'),
  );

  const r = await runCaptured(['daemon', '--config', config, '--metrics', 'off'], [daemonCommand]);

  assert.equal(r.code, 1);
  assert.deepEqual(r.stderr.split('\n'), [
    `daemon.xds.tls.certFile: cannot read "${join(dir, 'xds.pem')}" (ENOENT)`,
    `daemon.xds.tls.keyFile: cannot read "${join(dir, 'xds.key')}" (ENOENT)`,
  ]);
  assert.equal(existsSync(store), false, 'the store is not created');
});
