/**
 * A client that keeps one admin channel (the CLI's watch loops) to a daemon
 * that switches from follower to leader: the follower's admin server closes,
 * and the leader's opens on the same address once its controller has
 * started. A call in between is tried once more on a new connection, waiting
 * for the leader's server, with a message saying why; a daemon that never
 * answered still fails at once. Real gRPC servers on loopback.
 */
import assert from 'node:assert/strict';
import test, { type TestContext } from 'node:test';
import { Server, ServerCredentials, type sendUnaryData, status } from '@grpc/grpc-js';
import { AdminCallError, AdminClient } from '../../../daemon/admin/client.js';
import { storedDecisions } from '../../../daemon/admin/decision-view.js';
import { adminServiceDefinition } from '../../../daemon/admin/proto.js';
import { RolloutAdminBackend } from '../../../daemon/admin/rollout-backend.js';
import { type AdminServer, startAdminServer } from '../../../daemon/admin/server.js';
import { storeDeploymentRepo } from '../../../daemon/rollout/store-repo.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { freePort } from '../../harness/index.js';
import { checkoutConfig } from '../../unit/controller/fixtures.js';
import { TOKEN } from './setup.js';

/** An admin server on `port` as a follower (commands refused) or as the leader's, reading one store. */
async function adminServer(t: TestContext, port: number, role: 'follower' | 'leader'): Promise<AdminServer> {
  const store = openStore(':memory:');
  const backend = new RolloutAdminBackend({
    services: checkoutConfig().services,
    repo: storeDeploymentRepo(store),
    decision: storedDecisions(store),
    refuseCommands: () => `this daemon follows: send commands to the leader's admin API at 127.0.0.1:1`,
  });
  const server = await startAdminServer({
    backend,
    token: TOKEN,
    listen: `127.0.0.1:${port}`,
    ...(role === 'follower' ? { follower: { leader: () => '127.0.0.1:1' } } : {}),
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
    store.close();
  };
  t.after(close);
  return { ...server, close };
}

/** A client of the admin API on `port` (closed after the test) and what it said when it tried again. */
function clientOf(t: TestContext, port: number): { client: AdminClient; said: string[] } {
  const said: string[] = [];
  const client = new AdminClient({
    address: `127.0.0.1:${port}`,
    token: TOKEN,
    timeoutMs: 3000,
    onReconnect: (m) => said.push(m),
  });
  t.after(() => client.close());
  return { client, said };
}

test('a status loop survives its daemon switching from follower to leader: one retry on a new channel', async (t) => {
  // Arrange: a follower's admin server, a client that has already read from it (closed first after the test).
  const port = await freePort();
  const { client, said } = clientOf(t, port);
  const follower = await adminServer(t, port, 'follower');
  assert.equal((await client.status()).follower, true);

  // Act: the follower's server closes; the leader's opens on the same address a moment later.
  await follower.close();
  const call = client.status();
  await new Promise((r) => setTimeout(r, 1500));
  await adminServer(t, port, 'leader');

  // Assert: the call in the gap was answered by the leader, and the client said why it tried again.
  const r = await call;
  assert.equal(r.follower, false);
  assert.equal(said.length, 1);
  assert.match(said[0]!, /answered Status with UNAVAILABLE .*switching between follower and leader/);
});

test('a daemon that never answered is said unreachable at once, without a retry', async (t) => {
  const port = await freePort();
  const { client, said } = clientOf(t, port);

  const started = Date.now();
  await assert.rejects(client.status(), (err: unknown) => err instanceof AdminCallError);
  assert.deepEqual(said, []);
  assert.ok(Date.now() - started < 3000, 'no wait for a daemon that is not there');
});

test('a retry on a new channel leaves the calls in flight on the old ones to finish', async (t) => {
  // Arrange: a server swapping (each method UNIMPLEMENTED once), Status answering a little later than History.
  const port = await freePort();
  const server = new Server();
  const seen = { Status: 0, History: 0 };
  const once =
    (rpc: keyof typeof seen, answer: unknown, delayMs: number) =>
    (_call: unknown, cb: sendUnaryData<unknown>) => {
      if (++seen[rpc] === 1) return cb({ code: status.UNIMPLEMENTED, details: 'the server is swapping' });
      setTimeout(() => cb(null, answer), delayMs);
    };
  server.addService(adminServiceDefinition(), {
    Status: once('Status', { services: [], nowMs: 7 }, 200),
    History: once('History', { deployments: [] }, 0),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  t.after(() => server.forceShutdown());
  const { client, said } = clientOf(t, port);

  // Act: two calls on the same client at once; each meets UNIMPLEMENTED and is tried again.
  const [history, stat] = await Promise.allSettled([client.history(), client.status()]);

  // Assert: neither retry was cancelled by the other's new channel; both were answered.
  assert.deepEqual(history, { status: 'fulfilled', value: [] });
  assert.equal(stat.status === 'fulfilled' ? stat.value.nowMs : stat.reason, 7);
  assert.equal(said.length, 2);
  // The client goes on working.
  assert.deepEqual(await client.history(), []);
});
