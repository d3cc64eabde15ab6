/**
 * The admin token: a random bearer token kept in a file readable only by its
 * owner, created on first use. `UMBRA_ADMIN_TOKEN` overrides the file. A
 * token file group or others may read is refused, by the daemon and the CLI.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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

/**
 * Reads a token file (trimmed); throws with the path when it is missing,
 * empty, or readable by anyone but its owner: a token others could read may
 * already be known, so it is refused rather than silently tightened.
 */
export function readAdminToken(path: string): string {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `${path}: the admin token file is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${path} (and consider a new token)`,
    );
  }
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
