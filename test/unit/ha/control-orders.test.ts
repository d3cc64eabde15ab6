/**
 * The leader's orders to the filters on a shared store: the leader stores
 * each service's whole order after it sends it on its own streams; another
 * daemon sends on its streams only what changed, and pauses mirroring on
 * them once the orders have been unreadable for longer than a lease.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyOrder, OrderFollower, storedOrders } from '../../../daemon/ha/control-orders.js';
import { setLogLevel } from '../../../daemon/log.js';
import type { StoredControl, StoredControlState } from '../../../daemon/store/pg-shared-telemetry.js';
import type { ControlState, TelemetryServer } from '../../../daemon/telemetry/server.js';

setLogLevel('silent');

/** A telemetry server that keeps the state as the real one does and logs what it sends. */
function fakeServer(): TelemetryServer & { sent: string[] } {
  const controls = new Map<string, ControlState>();
  const sent: string[] = [];
  const set = (service: string, patch: ControlState, line: string) => {
    controls.set(service, { ...controls.get(service), ...patch });
    sent.push(`${service} ${line}`);
    return 1;
  };
  return {
    sent,
    port: 7071,
    setPercentage: (s, p) => set(s, { percentage: p }, `percentage ${p}`),
    pause: (s) => set(s, { paused: true }, 'pause'),
    resume: (s) => set(s, { paused: false }, 'resume'),
    setSplit: (s, p) => set(s, { split: p }, `split ${p}`),
    control: (s) => ({ ...controls.get(s) }),
    close: async () => {},
  };
}

test('an order is sent only where it differs from what the streams were last sent', () => {
  const server = fakeServer();
  assert.equal(applyOrder(server, 'shop', { percentage: 5, paused: false }), 2);
  assert.deepEqual(server.sent, ['shop percentage 5', 'shop resume']);
  server.sent.length = 0;
  // A split never sent is sent, even at 0: the filter may split on what another daemon told it.
  assert.equal(applyOrder(server, 'shop', { percentage: 5, paused: true, split: 0 }), 2);
  assert.deepEqual(server.sent, ['shop pause', 'shop split 0']);
  server.sent.length = 0;
  assert.equal(applyOrder(server, 'shop', { percentage: 5, paused: true, split: 30 }), 1);
  assert.deepEqual(server.sent, ['shop split 30']);
});

test('the leader stores the whole order of a service after each call, and a refused write does not stop it', () => {
  const server = fakeServer();
  const saved: [string, StoredControlState][] = [];
  let refuse = false;
  const leader = storedOrders(server, {
    saveControl: (s, st) => {
      if (refuse) throw new Error('fenced');
      saved.push([s, st]);
    },
  });
  assert.equal(leader.setPercentage('shop', 20), 1);
  leader.resume('shop');
  assert.deepEqual(saved, [
    ['shop', { percentage: 20 }],
    ['shop', { percentage: 20, paused: false }],
  ]);
  refuse = true;
  assert.equal(leader.pause('shop'), 1);
  assert.deepEqual(server.sent, ['shop percentage 20', 'shop resume', 'shop pause']);
  assert.equal(leader.port, 7071);
});

test('a follower sends new orders once, pauses after a lease of unreadable orders, and applies the stored ones again', () => {
  const server = fakeServer();
  let clock = 0;
  let rows: StoredControl[] = [];
  let failing = false;
  const follower = new OrderFollower({
    shared: {
      controls: () => {
        if (failing) throw new Error('PostgreSQL unavailable');
        return rows;
      },
    },
    target: server,
    services: ['shop', 'cart'],
    leaseMs: 2000,
    now: () => clock,
  });
  const order = (seq: number, state: StoredControlState): StoredControl => ({
    service: 'shop',
    state,
    seq,
    token: 1,
  });

  rows = [order(1, { percentage: 10, paused: false })];
  follower.poll();
  follower.poll();
  assert.deepEqual(server.sent, ['shop percentage 10', 'shop resume'], 'sent once');

  rows = [order(2, { percentage: 25, paused: false })];
  follower.poll();
  assert.deepEqual(server.sent.slice(2), ['shop percentage 25']);

  // The orders cannot be read: nothing changes within the lease...
  failing = true;
  clock = 1000;
  follower.poll();
  clock = 2000;
  follower.poll();
  assert.equal(follower.stale, false);
  assert.equal(server.sent.length, 3);
  // ...and past it every service's mirroring is paused on this daemon's streams, once.
  clock = 2300;
  follower.poll();
  follower.poll();
  assert.equal(follower.stale, true);
  assert.deepEqual(server.sent.slice(3), ['shop pause', 'cart pause']);

  // Readable again, the stored order (unchanged meanwhile) applies again.
  failing = false;
  clock = 2600;
  follower.poll();
  assert.equal(follower.stale, false);
  assert.deepEqual(server.sent.slice(5), ['shop resume']);
  assert.deepEqual(server.control('shop'), { percentage: 25, paused: false });
});
