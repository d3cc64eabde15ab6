/**
 * The exec provisioner with real commands (test/fixtures/exec/): a deploy
 * script that starts and stops real sample-service processes, and commands
 * that fail, hang, print garbage, or lie about what they started.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import type { ExecProvisioner as ExecConfig } from '../../../daemon/config/schema.js';
import { setLogSink } from '../../../daemon/log.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { ExecProvisioner } from '../../../daemon/provision/exec.js';
import { type Endpoint, ProvisionError } from '../../../daemon/provision/provisioner.js';
import { waitFor } from '../../harness/index.js';
import { killScriptInstances, running, scriptCalls, scriptPids } from '../e2e/exec.js';

const FIXTURES = join(projectRoot(), 'test', 'fixtures', 'exec');
const MAIN_V1 = { version: 'v1', pool: 'main' } as const;

/** The provisioners made by {@link provisioner}, per state directory: released before it goes. */
const provisionersOf = new Map<string, ExecProvisioner[]>();

/**
 * A state directory for the scripts. After the test: the provisioners using it
 * released (no background call may find it gone), its instances killed, it removed.
 */
function stateDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-exec-'));
  t.after(async () => {
    for (const p of provisionersOf.get(dir) ?? []) await p.release();
    provisionersOf.delete(dir);
    killScriptInstances(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function config(script: string, dir: string, over: Partial<ExecConfig> = {}): ExecConfig {
  return {
    kind: 'exec',
    command: [join(FIXTURES, script)],
    env: { EXEC_STATE_DIR: dir },
    replicas: 2,
    // Generous: the sample service starts slowly on a loaded machine.
    timeouts: { ensure: 60_000, stop: 30_000, status: 20_000 },
    retries: 2,
    retryDelay: 100,
    checkInterval: 200,
    probe: 'http',
    healthPath: '/healthz',
    versions: { v1: { env: {} }, v2: { env: {} } },
    ...over,
  };
}

/** A provisioner on `dir` (from {@link stateDir}), released when the test ends. */
function provisioner(dir: string, c: ExecConfig): ExecProvisioner {
  const p = new ExecProvisioner(c, { service: 'shop', killGraceMs: 500 });
  provisionersOf.set(dir, [...(provisionersOf.get(dir) ?? []), p]);
  return p;
}

/** A provisioner running the local-versions script told to break its promises (`EXEC_LIE`). */
function lying(t: TestContext, lie: string): { dir: string; p: ExecProvisioner } {
  const dir = stateDir(t);
  const p = provisioner(
    dir,
    config('local-versions.mjs', dir, { env: { EXEC_STATE_DIR: dir, EXEC_LIE: lie } }),
  );
  return { dir, p };
}

async function versionAt(e: Endpoint): Promise<string | null> {
  const res = await fetch(`http://${e.host}:${e.port}/products`, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.headers.get('x-version');
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (err: Error) => err,
  );
}

describe('exec provisioner (real commands)', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
}, () => {
  test('starts, resizes, checks and stops real instances through a deploy script', async (t) => {
    // Arrange
    const dir = stateDir(t);
    const p = provisioner(dir, config('local-versions.mjs', dir));

    // Act 1: two instances of v1 (from a daemon whose own UMBRA_* settings are not the command's business).
    process.env['UMBRA_ADMIN_TOKEN'] = 'not-for-commands';
    t.after(() => delete process.env['UMBRA_ADMIN_TOKEN']);
    const st = await p.ensure(MAIN_V1, 2);

    // Assert 1: both answer as v1, and the script was told what to do in its arguments.
    assert.equal(st.ready, 2);
    assert.equal(st.desired, 2);
    const eps = p.endpoints(MAIN_V1);
    assert.equal(eps.length, 2);
    for (const e of eps) assert.equal(await versionAt(e), 'v1');
    assert.deepEqual(scriptCalls(dir)[0], 'ensure v1 main 2 1');
    const env = JSON.parse(readFileSync(join(dir, 'umbra-env.json'), 'utf8')) as Record<string, string>;
    // The last call was the ensure, or a status after it.
    assert.deepEqual(
      {
        ...env,
        UMBRA_ACTION: ['ensure', 'status'].includes(env['UMBRA_ACTION']!),
        UMBRA_TIMEOUT_MS: Number(env['UMBRA_TIMEOUT_MS']) > 0,
      },
      {
        UMBRA_ACTION: true,
        UMBRA_ATTEMPT: '1',
        UMBRA_REPLICAS: '2',
        UMBRA_ROLE: 'main',
        UMBRA_SERVICE: 'shop',
        UMBRA_TIMEOUT_MS: true,
        UMBRA_VERSION: 'v1',
      },
    );

    // Act 2: the same size again is a no-op; then down to one.
    const before = scriptCalls(dir).filter((c) => c.startsWith('ensure')).length;
    await p.ensure(MAIN_V1, 2);
    assert.equal(
      scriptCalls(dir).filter((c) => c.startsWith('ensure')).length,
      before,
      'no command for a no-op',
    );
    const [first, second] = scriptPids(dir, 'v1') as [number, number];
    await p.ensure(MAIN_V1, 1);

    // Assert 2: one instance left; the other process is gone; the status loop sees the same.
    assert.equal(p.endpoints(MAIN_V1).length, 1);
    await waitFor('the dropped instance gone', async () => (running(second) ? undefined : true), {
      timeoutMs: 10_000,
    });
    assert.ok(running(first));
    await waitFor('a background status call', async () =>
      scriptCalls(dir).some((c) => c.startsWith('status v1 main 1')) ? true : undefined,
    );

    // Act 3: stop.
    await p.stop(MAIN_V1);

    // Assert 3: nothing routed, the process gone.
    assert.deepEqual(p.endpoints(MAIN_V1), []);
    assert.ok(scriptCalls(dir).includes('stop v1 main 0 1'));
    await waitFor('the last instance gone', async () => (running(first) ? undefined : true), {
      timeoutMs: 10_000,
    });
  });

  test('an instance that goes away on its own leaves routing, and the listener is told', async (t) => {
    // Arrange: two instances, a listener.
    const dir = stateDir(t);
    const p = provisioner(dir, config('local-versions.mjs', dir));
    await p.ensure(MAIN_V1, 2);
    const changes: string[] = [];
    t.after(p.onEndpointsChange((ref) => changes.push(`${ref.version}/${ref.pool}`)));
    const [gone, kept] = scriptPids(dir, 'v1') as [number, number];

    // Act: one instance dies behind the provisioner's back.
    process.kill(-gone, 'SIGKILL');

    // Assert: the background check drops it and says so; the other one stays.
    await waitFor('the change reported', async () => (changes.length > 0 ? true : undefined), {
      timeoutMs: 15_000,
    });
    assert.deepEqual(changes, ['v1/main']);
    assert.equal(p.endpoints(MAIN_V1).length, 1);
    assert.equal(await versionAt(p.endpoints(MAIN_V1)[0]!), 'v1');
    assert.ok(running(kept));
  });

  test('release leaves the versions running; a new provisioner takes them over; close stops them', async (t) => {
    const dir = stateDir(t);
    const first = provisioner(dir, config('local-versions.mjs', dir));
    await first.ensure(MAIN_V1, 2);
    const pids = scriptPids(dir, 'v1');

    // A daemon stop: nothing is stopped.
    await first.release();
    assert.ok(pids.every(running), 'the instances outlive the release');
    assert.ok(!scriptCalls(dir).some((c) => c.startsWith('stop')), 'release runs no command');

    // The next daemon ensures what it serves: the same processes, nothing restarted.
    const next = provisioner(dir, config('local-versions.mjs', dir));
    const st = await next.ensure(MAIN_V1, 2);
    assert.equal(st.ready, 2);
    assert.deepEqual(scriptPids(dir, 'v1'), pids);

    // --stop-instances: close stops every pool it ensured.
    await next.close();
    assert.ok(scriptCalls(dir).includes('stop v1 main 0 1'));
    await waitFor('the instances gone', async () => (pids.some(running) ? undefined : true), {
      timeoutMs: 10_000,
    });
  });

  test('a failing command is refused at once with its reason, and not retried', async (t) => {
    const dir = stateDir(t);
    const p = provisioner(dir, config('failing.sh', dir));

    const err = await rejection(p.ensure({ version: 'v2', pool: 'main' }, 1));

    assert.ok(err instanceof ProvisionError);
    assert.equal(
      err.message,
      `shop v2 (main): the ensure command (${join(FIXTURES, 'failing.sh')}) exited with code 1: "quota exceeded in namespace shop"`,
    );
    assert.deepEqual(scriptCalls(dir), ['ensure v2 main 1 1']);
    assert.deepEqual(p.endpoints({ version: 'v2', pool: 'main' }), []);
  });

  test('a hanging command is killed at its timeout with its whole process group, retried, then refused', async (t) => {
    const dir = stateDir(t);
    const p = provisioner(
      dir,
      config('hanging.sh', dir, { timeouts: { ensure: 1000, stop: 1000, status: 1000 }, retries: 1 }),
    );

    const err = await rejection(p.ensure({ version: 'v2', pool: 'main' }, 1, { timeoutMs: 30_000 }));

    assert.match(
      err.message,
      /^shop v2 \(main\): the ensure command \(.*hanging\.sh\) timed out; killed with its process group/,
    );
    assert.deepEqual(scriptCalls(dir), ['ensure v2 main 1 1', 'ensure v2 main 1 2'], 'two attempts');
    for (const attempt of [1, 2]) {
      const [shell, child] = readFileSync(join(dir, `hang-${attempt}.pids`), 'utf8')
        .trim()
        .split(' ')
        .map(Number);
      // The leader is reaped before the call ends; its child died with the group.
      assert.ok(!running(shell!), `attempt ${attempt}: the command is gone`);
      await waitFor(`attempt ${attempt}: its child gone`, async () => (running(child!) ? undefined : true), {
        timeoutMs: 5000,
      });
    }
  });

  test('garbage on stdout is an error naming the place, and nothing is routed', async (t) => {
    const dir = stateDir(t);
    const p = provisioner(dir, config('garbage.sh', dir));

    const err = await rejection(p.ensure({ version: 'v2', pool: 'main' }, 1));

    assert.equal(
      err.message,
      `shop v2 (main): the ensure command (${join(FIXTURES, 'garbage.sh')}) broke the output contract: stdout: not JSON ("deployment.apps/shop-v2 configured"); expected one JSON object`,
    );
    assert.deepEqual(scriptCalls(dir), ['ensure v2 main 1 1'], 'a broken contract is not retried');
    assert.deepEqual(p.endpoints({ version: 'v2', pool: 'main' }), []);
  });

  test('fewer replicas than asked: ready only as far as it goes, and the error says so', async (t) => {
    const { p } = lying(t, 'fewer');

    // Time for the one instance to start even on a loaded machine.
    const err = await rejection(p.ensure(MAIN_V1, 2, { timeoutMs: 10_000 }));

    assert.match(
      err.message,
      /^shop v1 \(main\): 1\/2 ready after 10000 ms; the command reports 1 endpoint \(2 asked\)$/,
    );
    const pool = p.status().find((s) => s.version === 'v1' && s.pool === 'main');
    assert.equal(pool?.ready, 1);
    assert.equal(p.endpoints(MAIN_V1).length, 1, 'the one that answers is routed');
  });

  test('endpoints that do not answer are never ready nor routed', async (t) => {
    const { p } = lying(t, 'deaf');

    const err = await rejection(p.ensure(MAIN_V1, 2, { timeoutMs: 2000 }));

    assert.match(
      err.message,
      /^shop v1 \(main\): 0\/2 ready after 2000 ms; the command reports 2 endpoints; not answering the probe: 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+$/,
    );
    assert.deepEqual(p.endpoints(MAIN_V1), []);
  });

  test('exit 75 is retried with backoff; an unknown version runs nothing', async (t) => {
    const logs: string[] = [];
    const prev = setLogSink((l) => logs.push(l));
    t.after(() => setLogSink(prev));
    const { dir, p } = lying(t, 'tempfail-once');

    const st = await p.ensure(MAIN_V1, 1);

    assert.equal(st.ready, 1);
    assert.deepEqual(scriptCalls(dir).slice(0, 2), ['ensure v1 main 1 1', 'ensure v1 main 1 2']);
    assert.ok(logs.some((l) => l.includes('provisioner command failed') && l.includes('"retryable":true')));
    await assert.rejects(p.ensure({ version: 'v9', pool: 'main' }, 1), /unknown version 'v9'/);
    assert.equal(scriptCalls(dir).filter((c) => c.includes('v9')).length, 0);
  });
});
