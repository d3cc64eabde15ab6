/** Installs one Debian package with apt-get (as root, non-interactive); true when both steps succeeded. */
import { spawnSync } from 'node:child_process';

export function aptInstall(pkg: string): { ok: true } | { ok: false; step: string } {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-q'],
    ['install', '-y', '-q', '--no-install-recommends', pkg],
  ]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env, timeout: 900_000 });
    if (r.status !== 0) return { ok: false, step: args[0]! };
  }
  return { ok: true };
}
