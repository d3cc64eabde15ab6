/**
 * Secret tokens kept in files readable only by their owner (the admin API's
 * bearer token, the telemetry token the filters present): created with a
 * fresh random value on first use, refused when group or others may read
 * them (a token others could read may already be known, so it is refused
 * rather than silently tightened), compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Metadata } from '@grpc/grpc-js';

/** Reads the token file, creating it (mode 0600, in 0700 directories) with a fresh random token when missing. */
export function ensureTokenFile(path: string, what: string): string {
  if (existsSync(path)) return readTokenFile(path, what);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  try {
    writeFileSync(path, token + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another daemon sharing the file created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readTokenFile(path, what);
    throw err;
  }
  chmodSync(path, 0o600);
  return token;
}

/** Reads a token file (trimmed); throws naming the path and `what` when it is missing, empty or not private. */
export function readTokenFile(path: string, what: string): string {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `${path}: the ${what} file is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${path} (and consider a new token)`,
    );
  }
  const token = readFileSync(path, 'utf8').trim();
  if (!token) throw new Error(`${path}: the ${what} file is empty`);
  return token;
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** True when gRPC initial metadata carries exactly one `key` equal to `token`. */
export function presentsToken(metadata: Metadata, key: string, token: string): boolean {
  const presented = metadata.get(key);
  return presented.length === 1 && typeof presented[0] === 'string' && tokenMatches(presented[0], token);
}
