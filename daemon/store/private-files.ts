/**
 * The store holds every decision and deployment of the fleet: its files are
 * the owner's only. The database file is created 0600 before SQLite opens it
 * (SQLite gives its -wal and -shm files the database file's mode), the
 * directories created for it are 0700, and files an older umbra left
 * readable by others, and a `.umbra` directory holding the store, are
 * tightened (logged once each).
 */
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { logger } from '../log.js';

const log = logger('store');

/** Prepares `path` (a database file, not `:memory:`) so that SQLite opens a private file. */
export function preparePrivateDatabase(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The default state directory (store, instance logs, tokens) is the daemon's own; any other directory may be shared.
  else if (basename(dir) === '.umbra') tighten(dir);
  // 'wx' never truncates: a file created meanwhile by another opener is left as it is.
  if (!existsSync(path)) {
    try {
      writeFileSync(path, '', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) tighten(file);
}

function tighten(file: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return;
  }
  if ((mode & 0o077) === 0) return;
  chmodSync(file, mode & 0o700);
  log.warn('store path was open to others; made private', {
    file,
    was: mode.toString(8),
    now: (mode & 0o700).toString(8),
  });
}
