/**
 * The browser the report's tests drive: Debian's `chromium`, installed by
 * `npm run setup` when missing (apt-get, as root), never downloaded by a
 * test library. `UMBRA_CHROMIUM` points at another binary.
 */
import { existsSync } from 'node:fs';
import { aptInstall } from './apt.js';

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
  const r = aptInstall('chromium');
  if (!r.ok) return `${chromiumMissing(path)} (apt-get ${r.step} failed)`;
  return existsSync(path) ? null : chromiumMissing(path);
}
