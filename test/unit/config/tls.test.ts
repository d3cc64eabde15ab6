import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import type { Tls } from '../../../daemon/config/schema.js';
import {
  checkDaemonTls,
  readTlsFiles,
  serverCredentials,
  TlsFilesError,
} from '../../../daemon/config/tls.js';
import { makeTestPki, skipWithoutOpenssl } from '../../harness/index.js';

function errorsOf(tls: Tls, at = 'daemon.xds.tls'): string[] {
  const r = readTlsFiles(tls, at);
  assert.equal(r.ok, false, 'expected the files to be refused');
  return r.ok ? [] : r.errors;
}

describe('the files of a tls block', { skip: skipWithoutOpenssl() }, () => {
  test('a server certificate with its key, and a client CA, are read', (t) => {
    const pki = makeTestPki(t);

    const plain = readTlsFiles(pki.server, 'daemon.xds.tls');
    const mutual = readTlsFiles({ ...pki.server, clientCaFile: pki.ca.certFile }, 'daemon.xds.tls');

    assert.ok(plain.ok && mutual.ok);
    assert.match(plain.material.certChain.toString(), /BEGIN CERTIFICATE/);
    assert.match(plain.material.privateKey.toString(), /BEGIN PRIVATE KEY/);
    assert.equal(plain.material.clientCa, undefined);
    assert.match(mutual.material.clientCa!.toString(), /BEGIN CERTIFICATE/);
  });

  test('every missing file is named with its setting', (t) => {
    const pki = makeTestPki(t);
    const missing = (name: string) => join(pki.dir, name);

    const errors = errorsOf(
      { certFile: missing('a.pem'), keyFile: missing('a.key'), clientCaFile: missing('ca.pem') },
      'daemon.telemetry.tls',
    );

    assert.deepEqual(errors, [
      `daemon.telemetry.tls.certFile: cannot read "${missing('a.pem')}" (ENOENT)`,
      `daemon.telemetry.tls.keyFile: cannot read "${missing('a.key')}" (ENOENT)`,
      `daemon.telemetry.tls.clientCaFile: cannot read "${missing('ca.pem')}" (ENOENT)`,
    ]);
  });

  test('files swapped, a key of another certificate, and a CA file with no certificate are refused', (t) => {
    const pki = makeTestPki(t);
    const junk = join(pki.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');

    const swapped = errorsOf({ certFile: pki.server.keyFile, keyFile: pki.server.certFile });
    const otherKey = errorsOf({ certFile: pki.server.certFile, keyFile: pki.client.keyFile });
    const badCa = errorsOf({ ...pki.server, clientCaFile: junk });

    assert.equal(swapped.length, 2);
    assert.equal(swapped[0], `daemon.xds.tls.certFile: "${pki.server.keyFile}" holds no PEM certificate`);
    assert.match(
      swapped[1]!,
      new RegExp(
        `^daemon\\.xds\\.tls\\.keyFile: "${pki.server.certFile}" is not an unencrypted PEM private key \\(`,
      ),
    );
    assert.deepEqual(otherKey, [
      `daemon.xds.tls.keyFile: "${pki.client.keyFile}" does not match the certificate in certFile`,
    ]);
    // gRPC itself takes such a CA file and then refuses every client.
    assert.deepEqual(badCa, [`daemon.xds.tls.clientCaFile: "${junk}" holds no PEM certificate`]);
  });

  test('the daemon check covers the admin, telemetry and xDS blocks', (t) => {
    const pki = makeTestPki(t);
    const gone = join(pki.dir, 'gone.pem');
    const parsed = parseConfig(
      JSON.stringify({
        daemon: {
          admin: { tls: pki.server },
          telemetry: { tls: { ...pki.server, certFile: gone } },
          xds: { tls: { ...pki.server, clientCaFile: gone } },
        },
      }),
    );
    assert.ok(parsed.ok);
    const none = parseConfig('');
    assert.ok(none.ok);

    assert.deepEqual(checkDaemonTls(parsed.config.daemon), [
      `daemon.telemetry.tls.certFile: cannot read "${gone}" (ENOENT)`,
      `daemon.xds.tls.clientCaFile: cannot read "${gone}" (ENOENT)`,
    ]);
    assert.deepEqual(checkDaemonTls(none.config.daemon), []);
  });

  test('the name the proxies ask the telemetry port for must be in its certificate', (t) => {
    const pki = makeTestPki(t);
    const daemonWith = (serverName: string) => {
      const parsed = parseConfig(
        JSON.stringify({
          daemon: {
            telemetry: { tls: { ...pki.server, proxy: { caFile: '/etc/envoy/ca.pem', serverName } } },
          },
        }),
      );
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('; '));
      return parsed.config.daemon;
    };

    assert.deepEqual(checkDaemonTls(daemonWith('localhost')), []);
    assert.deepEqual(checkDaemonTls(daemonWith('umbrad.internal')), [
      'daemon.telemetry.tls.proxy.serverName: "umbrad.internal" is not a DNS name of the certificate in certFile (DNS:localhost, IP Address:127.0.0.1)',
    ]);
  });

  test('server credentials are plaintext without a block, and refuse unusable files by name', (t) => {
    const pki = makeTestPki(t);

    const insecure = serverCredentials(undefined, 'daemon.xds.tls');
    const secure = serverCredentials({ ...pki.server, clientCaFile: pki.ca.certFile }, 'daemon.xds.tls');

    assert.equal(insecure._isSecure(), false);
    assert.equal(secure._isSecure(), true);
    assert.throws(
      () => serverCredentials({ certFile: pki.server.certFile, keyFile: pki.ca.keyFile }, 'daemon.admin.tls'),
      (err: unknown) =>
        err instanceof TlsFilesError &&
        err.message ===
          `daemon.admin.tls.keyFile: "${pki.ca.keyFile}" does not match the certificate in certFile`,
    );
  });
});
