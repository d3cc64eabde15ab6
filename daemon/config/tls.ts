/**
 * The files a `tls` block names (`daemon.admin.tls`, `daemon.telemetry.tls`,
 * `daemon.xds.tls`): read, checked, and turned into gRPC server credentials.
 *
 * The schema only knows the paths are strings; what the files hold is checked
 * here, and every problem names the setting to fix
 * (`daemon.xds.tls.keyFile: "k.pem" does not match the certificate in certFile`).
 * gRPC's own errors name neither the file nor the setting
 * (`PEM routines::no start line`), and to gRPC a `clientCaFile` holding no
 * certificate is no error at all: the server starts and refuses every client.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import type { DaemonConfig, Tls } from './schema.js';

/** The contents of a tls block's files, checked. */
export interface TlsMaterial {
  certChain: Buffer;
  privateKey: Buffer;
  /** Present when clients must show a certificate signed by it. */
  clientCa?: Buffer;
}

export type TlsFilesResult = { ok: true; material: TlsMaterial } | { ok: false; errors: string[] };

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM file, or why there are none usable. */
function pemCertificates(pem: Buffer): X509Certificate[] | string {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE);
  if (!blocks) return 'holds no PEM certificate';
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch (err) {
      return `certificate ${i + 1} cannot be parsed (${(err as Error).message})`;
    }
  }
  return certs;
}

/**
 * Reads and checks the files of one tls block; `at` is the block's config
 * path (`daemon.xds.tls`), which every error starts with. Checks: each file
 * is readable; `certFile` holds PEM certificates (the first is the server's),
 * `keyFile` an unencrypted PEM private key that belongs to that certificate,
 * `clientCaFile` at least one PEM certificate.
 */
export function readTlsFiles(tls: Tls, at: string): TlsFilesResult {
  const errors: string[] = [];
  const read = (key: keyof Tls): Buffer | undefined => {
    const file = tls[key];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      errors.push(`${at}.${key}: cannot read ${JSON.stringify(file)} (${code})`);
      return undefined;
    }
  };
  const certChain = read('certFile');
  const privateKey = read('keyFile');
  const clientCa = read('clientCaFile');

  let leaf: X509Certificate | undefined;
  if (certChain) {
    const certs = pemCertificates(certChain);
    if (typeof certs === 'string') errors.push(`${at}.certFile: ${JSON.stringify(tls.certFile)} ${certs}`);
    else leaf = certs[0];
  }
  let key: KeyObject | undefined;
  if (privateKey) {
    try {
      key = createPrivateKey(privateKey);
    } catch (err) {
      errors.push(
        `${at}.keyFile: ${JSON.stringify(tls.keyFile)} is not an unencrypted PEM private key (${(err as Error).message})`,
      );
    }
  }
  if (leaf && key && !leaf.checkPrivateKey(key)) {
    errors.push(`${at}.keyFile: ${JSON.stringify(tls.keyFile)} does not match the certificate in certFile`);
  }
  if (clientCa) {
    const cas = pemCertificates(clientCa);
    if (typeof cas === 'string')
      errors.push(`${at}.clientCaFile: ${JSON.stringify(tls.clientCaFile)} ${cas}`);
  }
  if (errors.length > 0 || !certChain || !privateKey) return { ok: false, errors };
  return { ok: true, material: { certChain, privateKey, ...(clientCa ? { clientCa } : {}) } };
}

/**
 * Every problem with the files of the daemon's tls blocks; empty when all are
 * usable (or absent). For the telemetry port it also checks that the name the
 * proxies will ask for (`tls.proxy.serverName`) is in the certificate, since
 * Envoy refuses a certificate without it.
 */
export function checkDaemonTls(daemon: DaemonConfig): string[] {
  const blocks: [string, Tls | undefined, string | undefined][] = [
    ['daemon.admin.tls', daemon.admin.tls, undefined],
    ['daemon.telemetry.tls', daemon.telemetry.tls, daemon.telemetry.tls?.proxy?.serverName],
    ['daemon.xds.tls', daemon.xds.tls, undefined],
  ];
  return blocks.flatMap(([at, tls, serverName]) => {
    if (!tls) return [];
    const r = readTlsFiles(tls, at);
    if (!r.ok) return r.errors;
    if (serverName === undefined) return [];
    const leaf = new X509Certificate(r.material.certChain);
    // NOTE: Envoy matches subject alternative names only, never the CN.
    if (leaf.checkHost(serverName, { subject: 'never' }) !== undefined) return [];
    return [
      `${at}.proxy.serverName: ${JSON.stringify(serverName)} is not a DNS name of the certificate in certFile (${leaf.subjectAltName ?? 'it has no subject alternative names'})`,
    ];
  });
}

/** A tls block whose files are unusable; the message lists every problem with its path. */
export class TlsFilesError extends Error {
  constructor(readonly errors: string[]) {
    super(errors.join('; '));
    this.name = 'TlsFilesError';
  }
}

/**
 * gRPC server credentials for a port: plaintext without a tls block; TLS
 * with one, requiring client certificates signed by `clientCaFile` when it is
 * set. Throws {@link TlsFilesError} when a file is unusable.
 */
export function serverCredentials(tls: Tls | undefined, at: string): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const r = readTlsFiles(tls, at);
  if (!r.ok) throw new TlsFilesError(r.errors);
  const { certChain, privateKey, clientCa } = r.material;
  return ServerCredentials.createSsl(
    clientCa ?? null,
    [{ cert_chain: certChain, private_key: privateKey }],
    clientCa !== undefined,
  );
}
