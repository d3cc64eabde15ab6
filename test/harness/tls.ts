/**
 * Test certificates made with `openssl` at test time: a CA, a server
 * certificate and a client certificate signed by it, and a second CA that
 * signed nothing the servers use (for "does not trust" cases). Keys are
 * P-256 (quick to make); everything expires after a day.
 *
 * The server certificate names `localhost` (and 127.0.0.1): a TLS server
 * name may not be an IP address (RFC 6066 §3), so clients connect to
 * `localhost` or set it as SNI.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './envoy.js';

/** A certificate and its private key, as PEM files. */
export interface CertFiles {
  certFile: string;
  keyFile: string;
}

export interface TestPki {
  dir: string;
  /** The CA that signed `server` and `client`. */
  ca: CertFiles;
  /** CN and DNS name `localhost`, IP 127.0.0.1; extended key usage serverAuth. */
  server: CertFiles;
  /** CN `umbra-test-client`; extended key usage clientAuth. */
  client: CertFiles;
  /** A CA unrelated to the others: trusting it trusts nothing here. */
  otherCa: CertFiles;
  /** A client certificate signed by `otherCa`. */
  otherClient: CertFiles;
}

/** The server certificate's name. */
export const TEST_SERVER_NAME = 'localhost';

let available: boolean | undefined;

/** Whether `openssl` can be run (tests skip without it). */
export function hasOpenssl(): boolean {
  if (available === undefined) {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

/** The skip reason for `test(name, { skip }, …)`, or false when openssl is there. */
export function skipWithoutOpenssl(): string | false {
  return hasOpenssl() ? false : 'openssl is not installed: cannot make test certificates';
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function selfSignedCa(dir: string, name: string): CertFiles {
  const files = { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
  openssl([
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    files.keyFile,
    '-out',
    files.certFile,
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return files;
}

function signed(dir: string, name: string, ca: CertFiles, cn: string, extensions: string[]): CertFiles {
  const files = { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `${['basicConstraints=CA:FALSE', ...extensions].join('\n')}\n`);
  openssl(['req', ...KEY, '-keyout', files.keyFile, '-out', csr, '-subj', `/CN=${cn}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-out',
    files.certFile,
    '-days',
    '1',
    '-extfile',
    ext,
  ]);
  return files;
}

/**
 * Makes a fresh set of certificates in a temp dir, removed after the test.
 * Check {@link hasOpenssl} first: this throws when openssl is missing.
 */
export function makeTestPki(t: Cleanup): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-pki-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = selfSignedCa(dir, 'umbra-test-ca');
  const otherCa = selfSignedCa(dir, 'other-ca');
  const clientUsage = ['extendedKeyUsage=clientAuth'];
  return {
    dir,
    ca,
    otherCa,
    server: signed(dir, 'server', ca, TEST_SERVER_NAME, [
      `subjectAltName=DNS:${TEST_SERVER_NAME},IP:127.0.0.1`,
      'extendedKeyUsage=serverAuth',
    ]),
    client: signed(dir, 'client', ca, 'umbra-test-client', clientUsage),
    otherClient: signed(dir, 'other-client', otherCa, 'other-client', clientUsage),
  };
}
