import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { AdminCallError, AdminClient } from '../../../daemon/admin/client.js';
import { adminService } from '../../../daemon/admin/proto.js';
import { makeTestPki, skipWithoutOpenssl, TEST_SERVER_NAME, waitFor } from '../../harness/index.js';
import { DECISION, EVIDENCE, startAdmin, TOKEN } from './setup.js';

/** Asserts that `p` fails with this gRPC status and a message matching `re`. */
async function refused(p: Promise<unknown>, code: status, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AdminCallError, `expected AdminCallError, got ${String(err)}`);
    assert.equal(status[err.code], status[code]);
    assert.match(err.message, re);
    return true;
  });
}

/** Waits (bounded) until the checkout deployment reaches `phase`. */
async function phaseOf(client: AdminClient, phase: string): Promise<void> {
  await waitFor(
    `checkout in ${phase}`,
    async () => (await client.status('checkout')).services[0]!.deployment?.phase,
    (p) => p === phase,
    { timeoutMs: 5000 },
  );
}

describe('admin API over loopback gRPC', () => {
  test('a missing or wrong token is refused and changes nothing', async (t) => {
    const { address, repo } = await startAdmin(t);
    // No authorization metadata at all.
    const Ctor = adminService();
    const raw = new Ctor(address, credentials.createInsecure());
    t.after(() => raw.close());
    const err = await new Promise<ServiceError>((resolve) =>
      (raw as unknown as Record<string, (...a: unknown[]) => void>)['deploy']!(
        { service: 'checkout', version: 'v2' },
        new Metadata(),
        (e: ServiceError) => resolve(e),
      ),
    );
    assert.equal(err.code, status.UNAUTHENTICATED);
    assert.equal(err.details, 'missing admin token (authorization: Bearer …)');
    // A wrong token.
    const wrong = new AdminClient({ address, token: 'not-the-token' });
    t.after(() => wrong.close());
    await refused(wrong.deploy('checkout', 'v2'), status.UNAUTHENTICATED, /^wrong admin token$/);
    await refused(wrong.status(), status.UNAUTHENTICATED, /^wrong admin token$/);
    assert.deepEqual(repo.list(), []);
  });

  test('unknown service or version and a deploy while another is in progress are refused', async (t) => {
    const { client, repo } = await startAdmin(t);
    await refused(
      client.deploy('payments', 'v2'),
      status.NOT_FOUND,
      /^unknown service 'payments' \(configured: checkout, catalog\)$/,
    );
    await refused(
      client.deploy('checkout', 'v9'),
      status.NOT_FOUND,
      /^checkout has no version 'v9' \(configured: v1, v2, v3\)$/,
    );
    await refused(
      client.deploy('checkout', 'v1'),
      status.FAILED_PRECONDITION,
      /v1 is already the version in production/,
    );
    assert.deepEqual(repo.list(), []);
    // A deploy is accepted…
    const r = await client.deploy('checkout', 'v2');
    assert.equal(r.deployment.phase, 'provisioning');
    assert.equal(r.message, 'deploying checkout v2 (replacing v1)');
    // …and a second one is refused while it runs.
    await refused(
      client.deploy('checkout', 'v3'),
      status.FAILED_PRECONDITION,
      /checkout already has deployment .* \(v2\) in (provisioning|shadowing)/,
    );
    assert.equal(repo.list().length, 1);
    // Other services are independent.
    assert.equal((await client.deploy('catalog', 'v8')).deployment.service, 'catalog');
    await refused(client.command('payments', 'promote'), status.NOT_FOUND, /unknown service 'payments'/);
    await refused(
      client.command('checkout', 'resume'),
      status.FAILED_PRECONDITION,
      /^checkout is not paused$/,
    );
  });

  test('status shows phase, score, evidence, prediction and pools', async (t) => {
    const { client } = await startAdmin(t);
    // Before any deployment: idle, stable from config.
    let s = (await client.status()).services;
    assert.deepEqual(
      s.map((x) => [x.name, x.stableVersion, x.deployment]),
      [
        ['checkout', 'v1', null],
        ['catalog', 'v7', null],
      ],
    );
    await client.deploy('checkout', 'v2');
    await phaseOf(client, 'shadowing');
    s = (await client.status('checkout')).services;
    const c = s[0]!;
    assert.equal(c.deployment?.version, 'v2');
    assert.equal(c.deployment?.deadlineTimer, 'shadow_end');
    assert.equal(c.verdict, 'insufficient');
    assert.equal(c.verdictReason, 'minimum sample');
    assert.equal(c.score, 1.25);
    assert.equal(c.pairs, 180);
    assert.deepEqual(c.evidence, EVIDENCE.evidence);
    assert.equal(c.hasPrediction, true);
    assert.equal(c.predictedSecondsToThreshold, 42);
    assert.deepEqual(
      c.pools.map((p) => [p.version, p.pool, p.ready]),
      [['v2', 'main', 2]],
    );
    await refused(client.status('payments'), status.NOT_FOUND, /unknown service 'payments'/);
  });

  test('every manual command goes through the machine; invalid ones are refused with no change', async (t) => {
    const { client, repo, effects } = await startAdmin(t);
    await client.deploy('checkout', 'v2');
    await phaseOf(client, 'shadowing');
    // pause → promote refused → resume → promote to step 1 (20%).
    assert.equal((await client.command('checkout', 'pause', 'lunch')).deployment.paused, true);
    const before = repo.list()[0];
    await refused(
      client.command('checkout', 'promote'),
      status.FAILED_PRECONDITION,
      /paused .*; resume it first/,
    );
    assert.deepEqual(repo.list()[0], before);
    await client.command('checkout', 'resume');
    let r = await client.command('checkout', 'promote', 'dashboards look fine');
    assert.equal(r.deployment.phase, 'promoting');
    assert.equal(r.deployment.candidateWeight, 20);
    assert.equal(r.deployment.step, 1);
    assert.match(r.message, /operator promote \(dashboards look fine\): candidate at 20%/);
    // rollback: v1 regains full capacity at once (static) → validating.
    r = await client.command('checkout', 'rollback', 'manual check');
    assert.equal(r.deployment.phase, 'rolling_back');
    await phaseOf(client, 'validating');
    assert.ok(effects.some((e) => e.kind === 'route' && e.weights['v1'] === 100));
    // rollback/abort/pause refused during the rollback.
    await refused(client.command('checkout', 'rollback'), status.FAILED_PRECONDITION, /already validating/);
    await refused(
      client.command('checkout', 'abort'),
      status.FAILED_PRECONDITION,
      /a rollback cannot be aborted/,
    );
    await refused(
      client.command('checkout', 'pause'),
      status.FAILED_PRECONDITION,
      /a rollback cannot be paused/,
    );
  });

  test('abort, then history lists each transition; explain shows a decision', async (t) => {
    const { client } = await startAdmin(t);
    await client.deploy('checkout', 'v2');
    await phaseOf(client, 'shadowing');
    const r = await client.command('checkout', 'abort', 'wrong build');
    assert.equal(r.deployment.phase, 'aborted');
    await refused(
      client.command('checkout', 'abort'),
      status.FAILED_PRECONDITION,
      /is aborted; nothing to abort/,
    );
    const h = await client.history('checkout');
    assert.equal(h.length, 1);
    assert.deepEqual(
      h[0]!.transitions.map((x) => [x.from, x.to, x.event]),
      [
        ['provisioning', 'provisioning', 'deploy'],
        ['provisioning', 'shadowing', 'provisioned'],
        ['shadowing', 'aborted', 'command:abort'],
      ],
    );
    // A new deployment may start once the previous is final.
    assert.equal((await client.deploy('checkout', 'v3')).deployment.previousVersion, 'v1');
    assert.equal((await client.history()).length, 2);
    // explain.
    assert.deepEqual(await client.explain(DECISION.id), DECISION);
    await refused(client.explain(8), status.NOT_FOUND, /^no decision 8$/);
  });
});

test('the right token is accepted', async (t) => {
  const { address } = await startAdmin(t);
  const right = new AdminClient({ address, token: TOKEN });
  t.after(() => right.close());
  assert.equal((await right.status()).services.length, 2);
});

test('TLS is one option away: a client trusting the CA connects, a plaintext one does not', {
  skip: skipWithoutOpenssl(),
}, async (t) => {
  const pki = makeTestPki(t);
  const { address } = await startAdmin(t, { tls: pki.server });
  // The certificate names localhost (a TLS server name may not be an IP address: RFC 6066 §3).
  const secure = new AdminClient({
    address: address.replace('127.0.0.1', TEST_SERVER_NAME),
    token: TOKEN,
    tlsCaFile: pki.ca.certFile,
  });
  const plain = new AdminClient({ address, token: TOKEN, timeoutMs: 2000 });
  t.after(() => {
    secure.close();
    plain.close();
  });
  assert.equal((await secure.status()).services.length, 2);
  await assert.rejects(plain.status(), AdminCallError);
});
