/**
 * The admin token: a random bearer token kept in a file readable only by its
 * owner, created on first use (see platform/token-file.ts).
 * `UMBRA_ADMIN_TOKEN` overrides the file. A token file group or others may
 * read is refused, by the daemon and the CLI.
 */
import { ensureTokenFile, readTokenFile } from '../platform/token-file.js';

export { tokenMatches } from '../platform/token-file.js';

/** Reads the token file, creating it (mode 0600) with a fresh random token when missing. */
export function ensureAdminToken(path: string): string {
  const fromEnv = process.env['UMBRA_ADMIN_TOKEN'];
  if (fromEnv) return fromEnv;
  return ensureTokenFile(path, 'admin token');
}

/** Reads a token file (trimmed); throws with the path when it is missing, empty, or readable by others. */
export function readAdminToken(path: string): string {
  return readTokenFile(path, 'admin token');
}
