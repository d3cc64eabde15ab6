import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaderLease } from '../../../daemon/ha/lease.js';
import { setLogLevel } from '../../../daemon/log.js';
import { FencedError, openPostgresStore, type PostgresStore } from '../../../daemon/store/postgres.js';
import { usePostgres } from '../../harness/postgres.js';
import { waitFor } from '../../harness/wait.js';

setLogLevel('silent');

const pg = usePostgres();

async function fresh(): Promise<{ url: string; store: PostgresStore }> {
  const url = await pg.database();
  // Opening the store migrates the database (the lease table is in its schema).
  return { url, store: openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000 }) };
}

function lease(url: string, holder: string, leaseMs = 1500): LeaderLease {
  return new LeaderLease({
    url,
    holder,
    address: `127.0.0.1:${holder.length}`,
    leaseMs,
    connectTimeoutMs: 500,
  });
}

function deployment(id: string) {
  return {
    id,
    service: 'checkout',
    version: 'v2',
    previousVersion: 'v1',
    phase: 'shadowing',
    phaseData: {},
    createdAt: 1,
    updatedAt: 1,
  };
}

test('one of two daemons leads; the other names it; a clean stop hands the lease over with a new token', async () => {
  const { url, store } = await fresh();
  const a = lease(url, 'a');
  const b = lease(url, 'b');
  try {
    await a.tryOnce();
    await b.tryOnce();
    assert.equal(a.isLeader(), true);
    assert.equal(b.isLeader(), false);
    assert.deepEqual(b.leader(), { holder: 'a', address: '127.0.0.1:1', token: 1 });

    await a.tryOnce();
    assert.equal(a.fence()?.token, 1, 'a renewal keeps the term');

    await a.stop();
    await b.tryOnce();
    assert.equal(b.isLeader(), true);
    assert.equal(b.fence()?.token, 2);
  } finally {
    await a.stop();
    await b.stop();
    store.close();
  }
});

test('a store with a fence writes only while its lease holds', async () => {
  const { url, store } = await fresh();
  const a = lease(url, 'a');
  try {
    store.createDeployment(deployment('d1'));
    store.setFence(() => a.fence());
    assert.throws(() => store.updatePhaseData('d1', { x: 1 }, 2), FencedError, 'not leading yet');
    await a.tryOnce();
    store.updatePhaseData('d1', { x: 1 }, 2);
    assert.deepEqual(store.getDeployment('d1')!.phaseData, { x: 1 });
  } finally {
    await a.stop();
    store.close();
  }
});

test('PostgreSQL down longer than the lease: the old leader stops acting, and its token is refused after a new leader takes over', async () => {
  const { url, store: storeA } = await fresh();
  const storeB = openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000 });
  const a = lease(url, 'a');
  const b = lease(url, 'b');
  const changes: { who: string; leading: boolean; at: number }[] = [];
  a.onChange((leading) => changes.push({ who: 'a', leading, at: performance.now() }));
  b.onChange((leading) => changes.push({ who: 'b', leading, at: performance.now() }));
  try {
    storeA.createDeployment(deployment('d1'));
    await a.tryOnce();
    const stale = a.fence()!;
    assert.equal(stale.token, 1);
    // The old leader keeps its view of the fence, as a process paused mid-write would.
    storeA.setFence(() => stale);
    storeB.setFence(() => b.fence());
    a.start();
    b.start();

    await pg.server().halt();
    const haltedAt = performance.now();
    await waitFor('the leader to stop acting without PostgreSQL', () => !a.isLeader(), { timeoutMs: 10_000 });
    // Down for longer than the lease: in the database's clock too, the term has ended.
    await waitFor('the lease time to pass', () => performance.now() > haltedAt + 1500 + 200, {
      timeoutMs: 10_000,
    });
    assert.equal(b.isLeader(), false);
    await pg.server().resume();
    await waitFor('a new leader', () => a.isLeader() || b.isLeader(), { timeoutMs: 15_000 });
    const leader = a.isLeader() ? a : b;
    assert.ok(leader.fence()!.token > stale.token, 'a new term has a new token');

    // Whoever leads now, the write under the stale token is refused and changes nothing.
    assert.throws(
      () => storeA.transition({ deploymentId: 'd1', from: 'shadowing', to: 'promoting', event: 'x', at: 5 }),
      FencedError,
    );
    assert.equal(storeA.getDeployment('d1')!.phase, 'shadowing');
    assert.equal(storeA.listTransitions('d1').length, 0);

    // Never two leaders: each "leading" interval ends before the next one starts.
    let holder: string | undefined;
    for (const c of changes) {
      if (c.leading) {
        assert.equal(holder, undefined, `${c.who} led while ${holder} did: ${JSON.stringify(changes)}`);
        holder = c.who;
      } else if (holder === c.who) holder = undefined;
    }
  } finally {
    await a.stop();
    await b.stop();
    storeA.close();
    storeB.close();
  }
});
