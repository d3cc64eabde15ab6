/**
 * The admin token: a random bearer token kept in a file readable only by its
 * owner, created on first use. `UMBRA_ADMIN_TOKEN` overrides the file.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Reads the token file, creating it (mode 0600) with a fresh random token when missing. */
export function ensureAdminToken(path: string): string {
  const fromEnv = process.env['UMBRA_ADMIN_TOKEN'];
  if (fromEnv) return fromEnv;
  if (existsSync(path)) return readAdminToken(path);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(path, token + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return token;
}

/** Reads a token file (trimmed); throws with the path when it is missing or empty. */
export function readAdminToken(path: string): string {
  const token = readFileSync(path, 'utf8').trim();
  if (!token) throw new Error(`${path}: the admin token file is empty`);
  return token;
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
