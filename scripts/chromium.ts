/**
 * The browser the report's tests drive: Debian's `chromium`, installed by
 * `npm run setup` when missing (apt-get, as root), never downloaded by a
 * test library. `UMBRA_CHROMIUM` points at another binary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function chromiumPath(): string {
  return process.env['UMBRA_CHROMIUM'] ?? '/usr/bin/chromium';
}

/** One line: what is missing and how to install it. */
export function chromiumMissing(path = chromiumPath()): string {
  return `umbra setup: no chromium at ${path}: the browser tests need it; install Debian's chromium (as root: apt-get install -y chromium) or set UMBRA_CHROMIUM`;
}

/**
 * Installs Debian's chromium when it is missing and this process is root;
 * returns null when a browser is there afterwards, else the line to print.
 */
export function ensureChromium(): string | null {
  const path = chromiumPath();
  if (existsSync(path)) return null;
  if (process.env['UMBRA_CHROMIUM'] || process.getuid?.() !== 0) return chromiumMissing(path);
  console.log('umbra setup: installing chromium with apt-get (for the browser tests) ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-q'],
    ['install', '-y', '-q', '--no-install-recommends', 'chromium'],
  ]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env, timeout: 900_000 });
    if (r.status !== 0) return `${chromiumMissing(path)} (apt-get ${args[0]} failed)`;
  }
  return existsSync(path) ? null : chromiumMissing(path);
}
