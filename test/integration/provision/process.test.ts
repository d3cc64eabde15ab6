import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ProcessProvisioner as ProcessConfig } from '../../../daemon/config/schema.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { ProcessProvisioner } from '../../../daemon/provision/process.js';
import type { PoolName, PoolStatus } from '../../../daemon/provision/provisioner.js';

const SERVER = fileURLToPath(new URL('./fixtures/tiny-server.mjs', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/provisioner-child.ts', import.meta.url));

function config(over: Partial<ProcessConfig> = {}): ProcessConfig {
  return {
    kind: 'process',
    replicas: 2,
    healthPath: '/healthz',
    errorPattern: '\\bERROR\\b',
    versions: {
      v1: { command: [process.execPath, SERVER], env: {} },
      sick: { command: [process.execPath, SERVER], env: { HEALTH: 'fail' } },
      missing: { command: ['/nonexistent/umbra-test-binary'], env: {} },
    },
    ...over,
  };
}

async function get(port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return res.text();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Alive and not a zombie (an orphan's zombie lingers until init reaps it). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/**
 * A provisioner in a Node process of its own (fixtures/provisioner-child.ts), standing in for a
 * daemon that a test SIGKILLs. Resolves with the status of its pools once they are ready.
 * Whatever it started is killed when the test ends.
 */
async function daemonChild(
  t: TestContext,
  args: {
    service: string;
    logDir: string;
    config: ProcessConfig;
    pools: { version: string; pool: PoolName; replicas: number }[];
  },
): Promise<{ kill: () => Promise<void>; pools: PoolStatus[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], {
    cwd: projectRoot(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, UMBRA_LOG_LEVEL: 'warn' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const pids: number[] = [];
  t.after(() => {
    child.kill('SIGKILL');
    for (const pid of pids.filter(running)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  });
  const end = Date.now() + 60_000;
  while (!out.includes('\n') && child.exitCode === null && Date.now() < end)
    await new Promise((r) => setTimeout(r, 50));
  assert.ok(out.includes('\n'), `the provisioner child reported no pools: ${err.slice(-2000)}`);
  const { pools } = JSON.parse(out) as { pools: PoolStatus[] };
  pids.push(...pools.flatMap((p) => p.instances.map((i) => i.pid!)));
  return {
    pools,
    // SIGKILL this process only, as a crash would: its instances lead process groups of their own.
    kill: async () => {
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      assert.equal(child.signalCode, 'SIGKILL');
    },
  };
}

/** Polls `pred` every 50 ms for at most `ms`. */
async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const ref = { version: 'v1', pool: 'main' as const };

describe('process provisioner (real processes)', () => {
  test('starts N instances with a PORT each, health-checked, and stops them cleanly', async (t) => {
    const logDir = mkdtempSync(join(tmpdir(), 'umbra-provision-'));
    const p = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100, logDir });
    t.after(() => p.close());
    // Ensure 2: resolves when both answer their health check.
    const st = await p.ensure(ref, 2, { timeoutMs: 15_000 });
    assert.equal(st.ready, 2);
    const eps = p.endpoints(ref);
    assert.equal(eps.length, 2);
    assert.notEqual(eps[0]!.port, eps[1]!.port);
    assert.deepEqual(await Promise.all(eps.map((e) => get(e.port, '/'))), ['v1 0', 'v1 1']);
    // Ensuring the same size again is a no-op with the same instances.
    const pids = st.instances.map((i) => i.pid!);
    assert.deepEqual(
      (await p.ensure(ref, 2)).instances.map((i) => i.pid),
      pids,
    );
    // Output goes to a per-instance log file, and its error lines are counted from there.
    await until(
      () => readFileSync(join(logDir, 'checkout-v1-main-0.log'), 'utf8').includes('listening on'),
      5000,
      'log',
    );
    await get(eps[0]!.port, '/error?n=3');
    await until(() => p.status()[0]!.instances[0]!.errorLines === 3, 5000, 'error lines from the log file');
    assert.equal(p.status()[0]!.instances[1]!.errorLines, 0);
    // Scale down to 1: instance 1 is stopped.
    await p.ensure(ref, 1);
    assert.equal(alive(pids[1]!), false);
    assert.equal(p.endpoints(ref).length, 1);
    // Stop: the last one exits too.
    await p.stop(ref);
    assert.equal(alive(pids[0]!), false);
    assert.deepEqual(p.status(), []);
  });

  test('restarts a crashed instance on the same port', async (t) => {
    const p = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100 });
    t.after(() => p.close());
    const st = await p.ensure(ref, 1, { timeoutMs: 15_000 });
    const { port, pid } = { port: st.instances[0]!.endpoint.port, pid: st.instances[0]!.pid! };
    // The instance crashes.
    await get(port, '/crash');
    await until(() => !alive(pid), 5000, 'the crash');
    // It comes back, restarted once, healthy on the same port.
    await until(
      () => p.status()[0]!.instances[0]!.healthy && p.status()[0]!.instances[0]!.pid !== pid,
      10_000,
      'restart',
    );
    const inst = p.status()[0]!.instances[0]!;
    assert.equal(inst.restarts, 1);
    assert.equal(inst.endpoint.port, port);
    assert.equal(await get(port, '/'), 'v1 0');
  });

  test('reports CPU, memory and the rate of error lines per instance', async (t) => {
    const p = new ProcessProvisioner(config({ errorPattern: 'request failed' }), {
      service: 'checkout',
      healthIntervalMs: 100,
    });
    t.after(() => p.close());
    const st = await p.ensure(ref, 1, { timeoutMs: 15_000 });
    const port = st.instances[0]!.endpoint.port;
    // Seven matching lines (and one that does not match).
    await get(port, '/error?n=7');
    await until(() => p.status()[0]!.instances[0]!.errorLines === 7, 5000, 'error lines');
    assert.equal(p.status()[0]!.instances[0]!.errorLinesPerMinute, 7);
    // Memory from /proc: a Node process is well over 10 MB resident.
    assert.ok((p.status()[0]!.instances[0]!.rssBytes ?? 0) > 10 * 1024 * 1024);
    // CPU: a 600 ms busy loop shows up in a sample.
    await get(port, '/burn?ms=600');
    await until(() => (p.status()[0]!.instances[0]!.cpuPercent ?? 0) > 20, 5000, 'CPU sample above 20%');
  });

  test('an instance that never becomes healthy fails ensure with a diagnosis; an unknown version is refused', async (t) => {
    const p = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100 });
    t.after(() => p.close());
    await assert.rejects(
      p.ensure({ version: 'sick', pool: 'main' }, 1, { timeoutMs: 1500 }),
      /checkout sick \(main\): 0\/1 healthy after 1500 ms; instance 0 on port \d+: last output: listening on \d+/,
    );
    await assert.rejects(
      p.ensure({ version: 'missing', pool: 'main' }, 1, { timeoutMs: 1000 }),
      /0\/1 healthy after 1000 ms; instance 0 on port \d+: could not start: spawn \/nonexistent\/umbra-test-binary ENOENT/,
    );
    await assert.rejects(
      p.ensure({ version: 'v9', pool: 'main' }, 1),
      /unknown version 'v9' \(configured: v1, sick, missing\)/,
    );
  });

  test('concurrent ensures of one pool start its instances once', async (t) => {
    const p = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100 });
    t.after(() => p.close());
    const [a, b] = await Promise.all([
      p.ensure(ref, 2, { timeoutMs: 15_000 }),
      p.ensure(ref, 2, { timeoutMs: 15_000 }),
    ]);
    assert.equal(p.status()[0]!.instances.length, 2);
    assert.deepEqual(
      a.instances.map((i) => i.pid),
      b.instances.map((i) => i.pid),
    );
  });

  test('the baseline pool is separate from the main pool of the same version', async (t) => {
    const p = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100 });
    t.after(() => p.close());
    await p.ensure(ref, 1, { timeoutMs: 15_000 });
    await p.ensure({ version: 'v1', pool: 'baseline' }, 1, { timeoutMs: 15_000 });
    assert.deepEqual(
      p.status().map((s) => `${s.version}/${s.pool}:${s.ready}`),
      ['v1/main:1', 'v1/baseline:1'],
    );
    await p.stop({ version: 'v1', pool: 'baseline' });
    assert.equal(p.endpoints(ref).length, 1);
  });

  test('an instance outlives its SIGKILLed daemon, and goes on writing its log', async (t) => {
    // Arrange: a daemon with one instance.
    const logDir = mkdtempSync(join(tmpdir(), 'umbra-orphan-'));
    const daemon = await daemonChild(t, {
      service: 'checkout',
      logDir,
      config: config(),
      pools: [{ ...ref, replicas: 1 }],
    });
    const { pid, endpoint } = daemon.pools[0]!.instances[0]!;

    // Act: the daemon dies; then the instance writes output a few times (a write to a pipe
    // whose reader has gone fails, and the next one kills a Node process with EPIPE).
    await daemon.kill();
    for (let i = 0; i < 3; i++) {
      assert.equal(await get(endpoint.port, '/error?n=2'), 'logged');
      await new Promise((r) => setTimeout(r, 100));
    }

    // Assert: it is still there, still serving, and its lines reached its log file.
    assert.equal(await get(endpoint.port, '/'), 'v1 0');
    assert.ok(running(pid!));
    await until(
      () => readFileSync(join(logDir, 'checkout-v1-main-0.log'), 'utf8').includes('INFO handled'),
      5000,
      'the line in the log file',
    );
  });

  test('a restarted daemon stops the instances its killed predecessor left running', async () => {
    // Arrange: a provisioner's instances, and another service's, in the same directory; then the
    // first one's owner "dies" without stopping them.
    const logDir = mkdtempSync(join(tmpdir(), 'umbra-reap-'));
    const first = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100, logDir });
    const other = new ProcessProvisioner(config(), { service: 'payments', healthIntervalMs: 100, logDir });
    const pids = (await first.ensure(ref, 2, { timeoutMs: 15_000 })).instances.map((i) => i.pid!);
    const otherPid = (await other.ensure(ref, 1, { timeoutMs: 15_000 })).instances[0]!.pid!;
    assert.ok(pids.every(alive));

    // Act: a new provisioner for the same service and directory (the restarted daemon).
    const second = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100, logDir });

    // Assert: the orphans are gone; the other service's instance is untouched.
    await until(() => pids.every((p) => !alive(p)), 5000, 'orphans reaped');
    assert.ok(alive(otherPid));
    await second.close();
    await first.close();
    await other.close();
  });
});
