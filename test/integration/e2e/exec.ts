/**
 * What the end-to-end tests of the exec provisioner share: the deploy script
 * they configure (test/fixtures/exec/local-versions.mjs), a service entry
 * using it, and reading what the script runs.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { freePort } from '../../harness/index.js';
import type { DaemonSetup } from './daemon.js';

export const EXEC_SCRIPT = join(projectRoot(), 'test', 'fixtures', 'exec', 'local-versions.mjs');

/**
 * A `shop` service (stable v1) on `listen` whose versions the script runs with
 * its state in `dir` (YAML list item); `extra` lines follow, indented by four.
 */
export function execShop(o: { listen: number; dir: string; versions: string; extra?: string }): string {
  return `  - name: shop
    stable: v1
    listen: 127.0.0.1:${o.listen}
    provisioner:
      kind: exec
      command: ['${EXEC_SCRIPT}']
      env: { EXEC_STATE_DIR: '${o.dir}', SAMPLE_SHADOW_COUNT_DIR: '${o.dir}' }
      replicas: 2
      checkInterval: 500ms
      retryDelay: 200ms
      versions:
${o.versions}
${o.extra ?? ''}`;
}

/** The setup of a daemon whose `shop` versions the deploy script runs, with the script's state in `dir`. */
export interface ExecSetup {
  dir: string;
  setup: DaemonSetup;
  /** Where the proxy accepts the service's traffic (named before the daemon starts: it reaches Envoy over xDS). */
  listen: number;
}

/**
 * The daemon setup for proxy `node` with one `shop` service whose versions
 * the script runs; whatever the script started is killed after the test.
 */
export async function execSetup(
  t: TestContext,
  node: string,
  shop: { versions: string; extra?: string },
): Promise<ExecSetup> {
  const listen = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'umbra-exec-e2e-'));
  t.after(() => killScriptInstances(dir));
  return { dir, listen, setup: { node, services: execShop({ listen, dir, ...shop }) } };
}

/** The pids the script runs for a pool now (none when it runs none). */
export function scriptPids(dir: string, version: string, pool = 'main'): number[] {
  const file = join(dir, `shop-${version}-${pool}.json`);
  if (!existsSync(file)) return [];
  return (JSON.parse(readFileSync(file, 'utf8')) as { pid?: number }[]).flatMap((i) =>
    i.pid ? [i.pid] : [],
  );
}

/** The script's calls so far, one line each: "ACTION VERSION ROLE REPLICAS ATTEMPT". */
export function scriptCalls(dir: string): string[] {
  const file = join(dir, 'calls.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
}

/** Running and not a zombie (an orphan's zombie lingers until init reaps it). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** SIGKILLs everything the script runs for `shop`, whatever the pool. */
export function killScriptInstances(dir: string): void {
  for (const f of readdirSync(dir).filter((x) => x.startsWith('shop-') && x.endsWith('.json'))) {
    const [version, pool] = f.slice('shop-'.length, -'.json'.length).split('-');
    for (const pid of scriptPids(dir, version!, pool)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Sends `n` requests one by one; the status and `x-version` of each. */
export async function answers(url: string, n: number): Promise<{ status: number; version: string | null }[]> {
  const out: { status: number; version: string | null }[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, { headers: { 'x-user': `u${i}` }, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    out.push({ status: res.status, version: res.headers.get('x-version') });
  }
  return out;
}
