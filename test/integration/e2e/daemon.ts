/**
 * The real daemon as `umbra daemon` runs it, in a child process, for the
 * end-to-end tests; and a bounded wait that retries through errors.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';

/** The admin token the started daemons use (UMBRA_ADMIN_TOKEN). */
export const TOKEN = 'e2e-admin-token';

/** Starts `umbra daemon --config <config> <args>`; killed after the test, its stderr shown when it failed. */
export function startDaemon(t: TestContext, config: string, args = ['--metrics', 'off']): ChildProcess {
  const cli = join(projectRoot(), 'daemon', 'cli', 'dev.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'daemon', '--config', config, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, UMBRA_ADMIN_TOKEN: TOKEN, UMBRA_LOG_LEVEL: 'warn' },
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 100_000) err += d.toString();
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if ((t as { passed?: boolean }).passed === false)
      console.error(`--- umbrad stderr ---\n${err.slice(-4000)}`);
  });
  return child;
}

/** Calls `fn` every 200 ms until it returns a value (errors count as not yet); fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what} ${last}`);
}
