import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import type { ProcessVersion } from '../../../daemon/config/schema.js';
import {
  isRunning,
  type Leftover,
  planAdoption,
  readStat,
  specHash,
  stopProcess,
} from '../../../daemon/provision/adopt.js';

const versions: Record<string, ProcessVersion> = {
  v1: { command: ['/usr/bin/srv', '--fast'], env: { A: '1', B: '2' } },
  v2: { command: ['/usr/bin/srv'], env: {}, cwd: '/srv' },
};

let nextPid = 100;
/** An instance as a predecessor started it: its own group leader, consistent with `versions`. */
function leftover(over: Partial<Leftover> & { env?: Record<string, string> } = {}): Leftover {
  const pid = over.pid ?? nextPid++;
  const version = over.env?.['UMBRA_VERSION'] ?? 'v1';
  return {
    pid,
    pgid: over.pgid ?? pid,
    startTime: over.startTime ?? pid,
    env: {
      UMBRA_VERSION: version,
      UMBRA_POOL: 'main',
      UMBRA_INSTANCE: '0',
      PORT: String(20_000 + pid),
      UMBRA_SPEC: versions[version] ? specHash(versions[version]) : 'x',
      ...over.env,
    },
  };
}

describe('planAdoption', () => {
  test('adopts consistent instances with their pool, index and port', () => {
    const a = leftover({ pid: 10, env: { UMBRA_INSTANCE: '0', PORT: '4000' } });
    const b = leftover({ pid: 11, env: { UMBRA_INSTANCE: '1', PORT: '4001' } });
    const c = leftover({ pid: 12, env: { UMBRA_VERSION: 'v2', UMBRA_POOL: 'baseline', PORT: '4002' } });
    const plan = planAdoption([a, b, c], versions);
    assert.deepEqual(plan.stop, []);
    assert.deepEqual(plan.adopt, [
      { id: { pid: 10, startTime: 10 }, ref: { version: 'v1', pool: 'main' }, index: 0, port: 4000 },
      { id: { pid: 11, startTime: 11 }, ref: { version: 'v1', pool: 'main' }, index: 1, port: 4001 },
      { id: { pid: 12, startTime: 12 }, ref: { version: 'v2', pool: 'baseline' }, index: 0, port: 4002 },
    ]);
  });

  test('stops what does not fit, saying why', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ UMBRA_VERSION: 'v0' }, /version 'v0' is no longer configured/],
      [{ UMBRA_POOL: 'canary' }, /malformed pool 'canary'/],
      [{ UMBRA_INSTANCE: '-1' }, /malformed instance index '-1'/],
      [{ UMBRA_INSTANCE: '1.5' }, /malformed instance index/],
      [{ PORT: '0' }, /malformed port '0'/],
      [{ PORT: '70000' }, /malformed port/],
      [{ PORT: '' }, /malformed port/],
      [
        { UMBRA_SPEC: specHash({ command: ['/usr/bin/srv'], env: { A: '1', B: '2' } }) },
        /command, env or cwd changed/,
      ],
    ];
    for (const [env, reason] of cases) {
      const plan = planAdoption([leftover({ env })], versions);
      assert.deepEqual(plan.adopt, [], JSON.stringify(env));
      assert.equal(plan.stop.length, 1);
      assert.match(plan.stop[0]!.reason, reason);
      assert.equal(plan.stop[0]!.group, true);
    }
    // Missing marks (an instance started before they existed) are not adopted either.
    const bare = leftover();
    delete bare.env['UMBRA_SPEC'];
    assert.match(planAdoption([bare], versions).stop[0]!.reason, /command, env or cwd changed/);
  });

  test('of two claims on one index or one port, the older process is kept', () => {
    const young = leftover({ pid: 50, startTime: 900, env: { UMBRA_INSTANCE: '0', PORT: '5000' } });
    const old = leftover({ pid: 51, startTime: 100, env: { UMBRA_INSTANCE: '0', PORT: '5001' } });
    const samePort = leftover({ pid: 52, startTime: 950, env: { UMBRA_INSTANCE: '1', PORT: '5001' } });
    const plan = planAdoption([young, old, samePort], versions);
    assert.deepEqual(
      plan.adopt.map((a) => a.id.pid),
      [51],
    );
    assert.deepEqual(
      plan.stop.map((s) => [s.id.pid, s.reason]),
      [
        [50, 'another process is instance 0 of this pool'],
        [52, 'another instance has port 5001'],
      ],
    );
  });

  test("processes inside an instance's group go with it; one whose instance is gone is stopped alone", () => {
    const leader = leftover({ pid: 60 });
    const worker = leftover({ pid: 61, pgid: 60 });
    const stray = leftover({ pid: 62, pgid: 59 });
    const plan = planAdoption([worker, leader, stray], versions);
    assert.deepEqual(
      plan.adopt.map((a) => a.id.pid),
      [60],
    );
    assert.deepEqual(
      plan.stop.map((s) => [s.id.pid, s.group]),
      [[62, false]],
    );
  });

  test('the spec hash ignores the order of env entries, and sees every change', () => {
    const base = specHash({ command: ['a', 'b'], env: { X: '1', Y: '2' } });
    assert.equal(specHash({ command: ['a', 'b'], env: { Y: '2', X: '1' } }), base);
    assert.notEqual(specHash({ command: ['a', 'b', 'c'], env: { X: '1', Y: '2' } }), base);
    assert.notEqual(specHash({ command: ['a', 'b'], env: { X: '1', Y: '3' } }), base);
    assert.notEqual(specHash({ command: ['a', 'b'], env: { X: '1', Y: '2' }, cwd: '/tmp' }), base);
  });
});

describe('processes that are not our children (Linux /proc)', () => {
  test('a process is known by pid and start time, and stopped with SIGTERM then SIGKILL', async () => {
    // A process that ignores SIGTERM, so only the SIGKILL after the grace period stops it.
    const child = spawn(
      process.execPath,
      ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"],
      { stdio: ['ignore', 'pipe', 'ignore'], detached: true },
    );
    const exited = new Promise((r) => child.once('exit', r));
    const ready = new Promise((r) => child.stdout.once('data', r));
    try {
      const pid = child.pid!;
      await Promise.race([ready, new Promise((r) => setTimeout(r, 10_000))]);
      const st = readStat(pid)!;
      assert.equal(st.pgid, pid);
      const id = { pid, startTime: st.startTime };
      assert.ok(isRunning(id));
      assert.equal(isRunning({ pid, startTime: st.startTime + 1 }), false);
      assert.equal(await stopProcess(id, true, 200), true);
      assert.equal(isRunning(id), false);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      assert.equal(child.signalCode, 'SIGKILL');
    } finally {
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
  });
});
