/** Runs the built demo (`dist/demo/run.js --ports auto …`) as `npm run demo` would, and collects its output. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';

/** The demo's exit code and everything it printed; SIGTERM after `killAfterMs`. */
export async function runDemo(
  args: string[],
  killAfterMs: number,
): Promise<{ code: number | null; out: string }> {
  const root = projectRoot();
  const run = join(root, 'dist', 'demo', 'run.js');
  assert.ok(existsSync(run), 'dist/demo/run.js missing: run `npm run build` first');
  const child = spawn(process.execPath, [run, '--ports', 'auto', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGTERM'), killAfterMs);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, out };
}
