import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { daemonCommand } from '../../../daemon/cli/commands/daemon.js';
import { setLogLevel } from '../../../daemon/log.js';
import { runCaptured } from './capture.js';

setLogLevel('silent');

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

test('umbra daemon names the setting whose port is in use, and exits 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-daemon-inuse-'));
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = (taken.address() as AddressInfo).port;
  const config = join(dir, 'umbra.yaml');
  for (const [setting, yaml] of [
    ['daemon.telemetry.listen', `  telemetry: { listen: "localhost:${port}" }`],
    ['daemon.xds.listen', `  xds: { listen: "127.0.0.1:${port}" }`],
  ] as const) {
    writeFileSync(
      config,
      [
        'daemon:',
        `  store: { path: ${JSON.stringify(join(dir, 'umbra.db'))} }`,
        `  admin: { listen: "127.0.0.1:0", tokenFile: ${JSON.stringify(join(dir, 'admin.token'))} }`,
        ...(setting === 'daemon.xds.listen'
          ? ['  telemetry: { listen: "127.0.0.1:0" }']
          : ['  xds: { listen: "127.0.0.1:0" }']),
        yaml,
      ].join('\n'),
    );

    const r = await runCaptured(['daemon', '--config', config, '--metrics', 'off'], [daemonCommand]);

    assert.equal(r.code, 1);
    const host = setting === 'daemon.xds.listen' ? '127.0.0.1' : 'localhost';
    assert.equal(r.stderr.split('\n').at(-1), `${setting} ${host}:${port} is in use`);
  }

  // The same for the --metrics flag (a plain HTTP server, not gRPC).
  writeFileSync(
    config,
    [
      'daemon:',
      `  store: { path: ${JSON.stringify(join(dir, 'umbra.db'))} }`,
      `  admin: { listen: "127.0.0.1:0", tokenFile: ${JSON.stringify(join(dir, 'admin.token'))} }`,
      '  telemetry: { listen: "127.0.0.1:0" }',
      '  xds: { listen: "127.0.0.1:0" }',
    ].join('\n'),
  );
  const r = await runCaptured(
    ['daemon', '--config', config, '--metrics', `127.0.0.1:${port}`],
    [daemonCommand],
  );
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split('\n').at(-1), `--metrics 127.0.0.1:${port} is in use`);
});

test('umbra daemon --telemetry off loopback without mutual TLS is refused like the setting', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-daemon-open-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, 'umbra.db');
  const config = join(dir, 'umbra.yaml');
  writeFileSync(config, `daemon: { store: { path: ${JSON.stringify(store)} } }\n`);

  const r = await runCaptured(
    ['daemon', '--config', config, '--metrics', 'off', '--telemetry', '0.0.0.0:7071'],
    [daemonCommand],
  );

  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    '--telemetry 0.0.0.0:7071: a non-loopback address needs tls with clientCaFile (mutual TLS), or insecure: true (daemon.telemetry.listen)',
  );
  assert.equal(existsSync(store), false, 'nothing started');
});
