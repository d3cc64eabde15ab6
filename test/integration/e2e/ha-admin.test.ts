/**
 * A long-lived admin client (as `umbra` holds one for a watch) of a daemon
 * that goes from following to leading on the same address gets clear
 * answers throughout: what only the leader runs is refused with the
 * leader's address while it follows, never UNIMPLEMENTED, and the same
 * client is served by the leader's admin API once it leads.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { status as grpcStatus } from '@grpc/grpc-js';
import { AdminCallError } from '../../../daemon/admin/client.js';
import { freePort, startUpstream, waitFor } from '../../harness/index.js';
import { startPostgres } from '../../harness/postgres.js';
import { staticShop } from './daemon.js';
import { startHaCluster } from './ha.js';

test('a long-lived admin client of a follower that becomes leader never sees UNIMPLEMENTED', {
  timeout: 180_000,
}, async (t) => {
  const pg = await startPostgres();
  t.after(() => pg.stop());
  const v1 = await startUpstream(t, { body: 'v1' });
  const listen = await freePort();
  const cluster = await startHaCluster(
    { pgUrl: pg.url, node: 'ha-edge', lease: '2s', services: staticShop(listen, { v1: v1.port }) },
    ['a', 'b'],
  );
  t.after(() => cluster.close());
  const leader = await cluster.waitForLeader('a leader', 60_000, 200);
  const follower = cluster.daemons.find((d) => d !== leader)!;
  const client = follower.client; // one channel for the whole test
  await waitFor(
    'the follower to name the leader',
    () => client.status(),
    (s) => s.follower && s.leader === `127.0.0.1:${leader.admin}`,
    { timeoutMs: 20_000, intervalMs: 200 },
  );

  // While it follows: what only the leader runs is refused, naming the leader.
  const refusal = new RegExp(
    `follows: send commands to the leader's admin API at 127\\.0\\.0\\.1:${leader.admin}`,
  );
  for (const call of [() => client.experimentStatus('shop'), () => client.chaosStatus('shop')]) {
    await assert.rejects(call(), (err: AdminCallError) => {
      assert.equal(err.code, grpcStatus.FAILED_PRECONDITION, err.message);
      assert.match(err.message, refusal);
      return true;
    });
  }

  // The leader dies: the follower takes over on the same address; the same client keeps asking.
  leader.child.kill('SIGKILL');
  const codes: number[] = [];
  await waitFor(
    'the client to be served by the new leader',
    async () => {
      try {
        const s = await client.status();
        await client.experimentStatus('shop');
        return s.follower ? undefined : true;
      } catch (err) {
        const code = err instanceof AdminCallError ? err.code : -1;
        codes.push(code);
        if (code === grpcStatus.UNIMPLEMENTED) return (err as Error).message;
        return undefined;
      }
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  assert.ok(!codes.includes(grpcStatus.UNIMPLEMENTED), `answers during the switch: ${codes.join(', ')}`);
  assert.equal((await client.status()).follower, false);
  assert.deepEqual(await client.experimentStatus('shop'), []);
});
