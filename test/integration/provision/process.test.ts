import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ProcessProvisioner as ProcessConfig } from '../../../daemon/config/schema.js';
import { setLogSink } from '../../../daemon/log.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { ProcessProvisioner } from '../../../daemon/provision/process.js';
import type { PoolName, PoolStatus } from '../../../daemon/provision/provisioner.js';
import { waitFor } from '../../harness/index.js';

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
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
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
  await waitFor(
    'the provisioner child to report its pools or exit',
    () => out.includes('\n') || child.exitCode !== null,
    {
      timeoutMs: 60_000,
    },
  ).catch(() => undefined);
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

/** Calls every port in turn until stopped (bounded), recording each call that fails. */
function keepCalling(ports: number[]): { stop: () => Promise<{ ok: number; failures: string[] }> } {
  let stopped = false;
  let ok = 0;
  const failures: string[] = [];
  const done = (async () => {
    for (let i = 0; i < 20_000 && !stopped; i++) {
      const port = ports[i % ports.length]!;
      try {
        await get(port, '/');
        ok++;
      } catch (e) {
        failures.push(`${port}: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return { ok, failures };
    },
  };
}

/** The provisioner's log lines, as objects, from now until the test ends. */
function captureLogs(t: TestContext): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  const previous = setLogSink((line) => {
    previous(line);
    const obj = JSON.parse(line) as Record<string, unknown>;
    if (obj['module'] === 'provision') lines.push(obj);
  });
  t.after(() => setLogSink(previous));
  return lines;
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
    await waitFor(
      'log',
      () => readFileSync(join(logDir, 'checkout-v1-main-0.log'), 'utf8').includes('listening on'),
      { timeoutMs: 5000 },
    );
    await get(eps[0]!.port, '/error?n=3');
    await waitFor('error lines from the log file', () => p.status()[0]!.instances[0]!.errorLines === 3, {
      timeoutMs: 5000,
    });
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
    await waitFor('the crash', () => !alive(pid), { timeoutMs: 5000 });
    // It comes back, restarted once, healthy on the same port.
    await waitFor(
      'restart',
      () => p.status()[0]!.instances[0]!.healthy && p.status()[0]!.instances[0]!.pid !== pid,
    );
    const inst = p.status()[0]!.instances[0]!;
    assert.equal(inst.restarts, 1);
    assert.equal(inst.endpoint.port, port);
    assert.equal(await get(port, '/'), 'v1 0');
  });

  test('an instance that exits or fails its checks leaves the endpoints at once, and the listener is told', async (t) => {
    // Arrange: two instances, a listener of endpoint changes.
    const p = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100 });
    t.after(() => p.close());
    const st = await p.ensure(ref, 2, { timeoutMs: 15_000 });
    const [crashing, sickening] = st.instances.map((i) => i.endpoint.port) as [number, number];
    const changes: { ports: number[] }[] = [];
    t.after(p.onEndpointsChange((r) => changes.push({ ports: p.endpoints(r).map((e) => e.port) })));

    // Act 1: one instance exits on its own.
    await get(crashing, '/crash');

    // Assert 1: the listener hears of it with the instance out of the endpoints, then back once restarted.
    await waitFor('the exit reported', () => changes.some((c) => !c.ports.includes(crashing)), {
      timeoutMs: 10_000,
    });
    await waitFor('the restart reported', () => changes.at(-1)?.ports.includes(crashing), {
      timeoutMs: 15_000,
    });

    // Act 2: the other one keeps running but fails its health checks.
    changes.length = 0;
    await get(sickening, '/sicken');

    // Assert 2: out of the endpoints (after two failed checks in a row), and the listener told.
    await waitFor('the failed checks reported', () => changes.some((c) => !c.ports.includes(sickening)), {
      timeoutMs: 10_000,
    });
    assert.deepEqual(
      p.endpoints(ref).map((e) => e.port),
      [crashing],
    );
  });

  test('a scale-down routes the leaving instance away, lets it drain, then stops it', async (t) => {
    // Arrange: two instances, a listener that notes whether the leaving one still runs when told.
    const p = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100, drainMs: 300 });
    t.after(() => p.close());
    const st = await p.ensure(ref, 2, { timeoutMs: 15_000 });
    const leaving = st.instances[1]!;
    const told: { ports: number[]; leavingRuns: boolean }[] = [];
    t.after(
      p.onEndpointsChange((r) =>
        told.push({ ports: p.endpoints(r).map((e) => e.port), leavingRuns: running(leaving.pid!) }),
      ),
    );

    // Act: down to one.
    await p.ensure(ref, 1);

    // Assert: routing was told while the instance still ran (out of the endpoints already), then it stopped.
    assert.deepEqual(told, [{ ports: [st.instances[0]!.endpoint.port], leavingRuns: true }]);
    assert.equal(alive(leaving.pid!), false);
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
    await waitFor('error lines', () => p.status()[0]!.instances[0]!.errorLines === 7, { timeoutMs: 5000 });
    assert.equal(p.status()[0]!.instances[0]!.errorLinesPerMinute, 7);
    // Memory from /proc: a Node process is well over 10 MB resident.
    assert.ok((p.status()[0]!.instances[0]!.rssBytes ?? 0) > 10 * 1024 * 1024);
    // CPU: a 600 ms busy loop shows up in a sample.
    await get(port, '/burn?ms=600');
    await waitFor('CPU sample above 20%', () => (p.status()[0]!.instances[0]!.cpuPercent ?? 0) > 20, {
      timeoutMs: 5000,
    });
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
    await waitFor(
      'the line in the log file',
      () => readFileSync(join(logDir, 'checkout-v1-main-0.log'), 'utf8').includes('INFO handled'),
      { timeoutMs: 5000 },
    );
  });

  test('a restarted daemon adopts the instances its SIGKILLed predecessor left running', async (t) => {
    // Arrange: a daemon with two instances, and a client that keeps calling both.
    const logDir = mkdtempSync(join(tmpdir(), 'umbra-adopt-'));
    const daemon = await daemonChild(t, {
      service: 'checkout',
      logDir,
      config: config(),
      pools: [{ ...ref, replicas: 2 }],
    });
    const before = daemon.pools[0]!.instances;
    const ports = before.map((i) => i.endpoint.port);
    const client = keepCalling(ports);
    t.after(() => client.stop());
    const lines = captureLogs(t);

    // Act: the daemon dies; a new one starts with the same directory and config.
    await daemon.kill();
    const second = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100, logDir });
    t.after(() => second.close());
    const st = await second.ensure(ref, 2, { timeoutMs: 15_000 });

    // Assert: the same processes on the same ports, ready, never restarted; one log line says so.
    assert.equal(st.ready, 2);
    assert.deepEqual(
      st.instances.map((i) => [i.index, i.pid, i.endpoint.port, i.restarts]),
      before.map((i) => [i.index, i.pid, i.endpoint.port, 0]),
    );
    assert.deepEqual(
      second.endpoints(ref).map((e) => e.port),
      ports,
    );
    const adopted = lines.filter((l) => l.msg === 'adopted the instances a previous daemon left running');
    assert.deepEqual(adopted, [
      {
        ...adopted[0],
        service: 'checkout',
        version: 'v1',
        pool: 'main',
        pids: before.map((i) => i.pid),
        ports,
      },
    ]);
    // They are measured and their error lines counted, like instances it started.
    await get(ports[0]!, '/error?n=2');
    await waitFor(
      'error lines of an adopted instance',
      () => second.status()[0]!.instances[0]!.errorLines === 2,
      { timeoutMs: 5000 },
    );
    assert.ok((second.status()[0]!.instances[0]!.rssBytes ?? 0) > 10 * 1024 * 1024);
    // Growing the pool starts only the difference, on the next index.
    const grown = await second.ensure(ref, 3, { timeoutMs: 15_000 });
    assert.deepEqual(
      grown.instances.map((i) => [i.index, i.pid]),
      [...before.map((i) => [i.index, i.pid]), [2, grown.instances[2]!.pid]],
    );
    assert.equal(await get(grown.instances[2]!.endpoint.port, '/'), 'v1 2');
    // The client never missed an answer.
    const calls = await client.stop();
    assert.ok(calls.ok > 0, 'the client made calls');
    assert.deepEqual(calls.failures, []);
    assert.ok(before.every((i) => running(i.pid!)));
  });

  test('an adopted instance that dies is replaced on the same port', async (t) => {
    const logDir = mkdtempSync(join(tmpdir(), 'umbra-adopt-'));
    const daemon = await daemonChild(t, {
      service: 'checkout',
      logDir,
      config: config(),
      pools: [{ ...ref, replicas: 1 }],
    });
    const { pid, endpoint } = daemon.pools[0]!.instances[0]!;
    await daemon.kill();
    const second = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100, logDir });
    t.after(() => second.close());
    await second.ensure(ref, 1, { timeoutMs: 15_000 });

    // Act: the adopted process dies (it is not our child: no exit event tells us).
    process.kill(pid!, 'SIGKILL');

    // Assert: a new process of ours, healthy on the same port, counted as a restart.
    await waitFor(
      'the replacement',
      () => second.status()[0]!.instances[0]!.healthy && second.status()[0]!.instances[0]!.pid !== pid,
    );
    const inst = second.status()[0]!.instances[0]!;
    assert.equal(inst.endpoint.port, endpoint.port);
    assert.equal(inst.restarts, 1);
    assert.equal(await get(endpoint.port, '/'), 'v1 0');
    assert.equal(running(pid!), false);
  });

  test('resize, stop and close stop adopted instances', async (t) => {
    const logDir = mkdtempSync(join(tmpdir(), 'umbra-adopt-'));
    const baseline = { version: 'v1', pool: 'baseline' as const };
    const daemon = await daemonChild(t, {
      service: 'checkout',
      logDir,
      config: config(),
      pools: [
        { ...ref, replicas: 2 },
        { ...baseline, replicas: 1 },
      ],
    });
    const [main0, main1] = daemon.pools[0]!.instances.map((i) => i.pid!);
    const base0 = daemon.pools[1]!.instances[0]!.pid!;
    await daemon.kill();
    const second = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100, logDir });
    t.after(() => second.close());

    // Shrinking stops the highest index; stop stops a pool; close stops the rest.
    await second.ensure(ref, 1, { timeoutMs: 15_000 });
    assert.equal(running(main1!), false);
    assert.deepEqual(
      second
        .status()
        .find((s) => s.pool === 'main')!
        .instances.map((i) => i.pid),
      [main0],
    );
    await second.stop(ref);
    assert.equal(running(main0!), false);
    assert.ok(running(base0));
    await second.close();
    assert.equal(running(base0), false);
  });

  test('after a gap in the adopted indices, new instances fill it', async (t) => {
    const logDir = mkdtempSync(join(tmpdir(), 'umbra-adopt-'));
    const daemon = await daemonChild(t, {
      service: 'checkout',
      logDir,
      config: config(),
      pools: [{ ...ref, replicas: 3 }],
    });
    const pids = daemon.pools[0]!.instances.map((i) => i.pid!);
    await daemon.kill();
    // Instance 1 dies while no daemon runs.
    process.kill(-pids[1]!, 'SIGKILL');
    await waitFor('instance 1 to go', () => !running(pids[1]!), { timeoutMs: 5000 });
    const second = new ProcessProvisioner(config(), { service: 'checkout', healthIntervalMs: 100, logDir });
    t.after(() => second.close());
    assert.deepEqual(
      second.status()[0]!.instances.map((i) => [i.index, i.pid]),
      [
        [0, pids[0]],
        [2, pids[2]],
      ],
    );

    const st = await second.ensure(ref, 3, { timeoutMs: 15_000 });
    assert.deepEqual(
      st.instances.map((i) => i.index),
      [0, 1, 2],
    );
    assert.deepEqual([st.instances[0]!.pid, st.instances[2]!.pid], [pids[0], pids[2]]);
    assert.equal(await get(st.instances[1]!.endpoint.port, '/'), 'v1 1');
  });

  test("leftovers of a removed version or a changed command are stopped; another service's are untouched", async (t) => {
    // Arrange: a daemon running v1, v0 and v2; another service's instance in the same directory.
    const logDir = mkdtempSync(join(tmpdir(), 'umbra-adopt-'));
    const flavoured = (flavour: string) => ({
      command: [process.execPath, SERVER],
      env: { FLAVOUR: flavour },
    });
    const old = config({
      versions: { v0: flavoured('a'), v1: flavoured('a'), v2: flavoured('a') },
    });
    const daemon = await daemonChild(t, {
      service: 'checkout',
      logDir,
      config: old,
      pools: ['v0', 'v1', 'v2'].map((version) => ({ version, pool: 'main' as const, replicas: 1 })),
    });
    const [v0, v1, v2] = daemon.pools.map((p) => p.instances[0]!.pid!);
    const other = new ProcessProvisioner(config(), { service: 'payments', healthIntervalMs: 100, logDir });
    t.after(() => other.close());
    const otherPid = (await other.ensure(ref, 1, { timeoutMs: 15_000 })).instances[0]!.pid!;
    const lines = captureLogs(t);

    // Act: the daemon dies and comes back with v0 removed and v2's environment changed.
    await daemon.kill();
    const second = new ProcessProvisioner(config({ versions: { v1: flavoured('a'), v2: flavoured('b') } }), {
      service: 'checkout',
      healthIntervalMs: 100,
      logDir,
    });
    t.after(() => second.close());

    // Assert: v1 is adopted; v0 and v2 are stopped, with the reason logged; payments is untouched.
    assert.deepEqual(
      second.status().map((s) => [s.version, s.instances.map((i) => i.pid)]),
      [['v1', [v1]]],
    );
    await waitFor('the leftovers to stop', () => !running(v0!) && !running(v2!));
    assert.ok(running(v1!));
    assert.ok(running(otherPid));
    const reasons = lines
      .filter((l) => l.msg === 'stopping an instance a previous daemon left running')
      .map((l) => [l.version, l.pid, l.reason])
      .sort();
    assert.deepEqual(reasons, [
      ['v0', v0, "version 'v0' is no longer configured"],
      ['v2', v2, "the version's command, env or cwd changed since it started"],
    ]);
  });
});
