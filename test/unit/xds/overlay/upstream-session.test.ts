import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamSession } from '../../../../daemon/xds/overlay/upstream-session.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../../../daemon/xds/type-urls.js';

test('the first subscription is asked at once; a response is ACKed with its own version and nonce', () => {
  const s = new UpstreamSession();

  const first = s.subscribe(CLUSTER_TYPE, []);
  s.received(CLUSTER_TYPE, 'u1', 'n1');
  const ack = s.ack(CLUSTER_TYPE);

  assert.deepEqual(first, {
    type_url: CLUSTER_TYPE,
    version_info: '',
    resource_names: [],
    response_nonce: '',
  });
  assert.deepEqual(ack, {
    type_url: CLUSTER_TYPE,
    version_info: 'u1',
    resource_names: [],
    response_nonce: 'n1',
  });
  assert.equal(s.ack(CLUSTER_TYPE), undefined, 'a response is answered once');
});

test('a NACK carries the version last accepted and the proxy’s error', () => {
  const s = new UpstreamSession();
  s.subscribe(CLUSTER_TYPE, []);
  s.received(CLUSTER_TYPE, 'u1', 'n1');
  s.ack(CLUSTER_TYPE);
  s.received(CLUSTER_TYPE, 'u2', 'n2');

  const nack = s.nack(CLUSTER_TYPE, { code: 3, message: 'bad cluster' });

  assert.deepEqual(nack, {
    type_url: CLUSTER_TYPE,
    version_info: 'u1',
    resource_names: [],
    response_nonce: 'n2',
    error_detail: { code: 3, message: 'bad cluster' },
  });
});

test('a changed subscription goes at once when nothing is owed, and with the answer when something is', () => {
  const s = new UpstreamSession();
  s.subscribe(ENDPOINT_TYPE, ['a']);
  s.received(ENDPOINT_TYPE, 'u1', 'n1');

  const whileOwed = s.subscribe(ENDPOINT_TYPE, ['a', 'b']);
  const ack = s.ack(ENDPOINT_TYPE);
  const unchanged = s.subscribe(ENDPOINT_TYPE, ['b', 'a']);
  const later = s.subscribe(ENDPOINT_TYPE, ['b']);

  assert.equal(whileOwed, undefined);
  assert.deepEqual(ack?.resource_names, ['a', 'b']);
  assert.equal(unchanged, undefined, 'order does not matter');
  assert.deepEqual(later, {
    type_url: ENDPOINT_TYPE,
    version_info: 'u1',
    resource_names: ['b'],
    response_nonce: 'n1',
  });
});

test('a reconnect asks every subscribed type afresh with the version last ACKed, and forgets what was owed', () => {
  const s = new UpstreamSession();
  s.subscribe(CLUSTER_TYPE, []);
  s.received(CLUSTER_TYPE, 'u1', 'n1');
  s.ack(CLUSTER_TYPE);
  s.subscribe(ENDPOINT_TYPE, ['a']);
  s.received(ENDPOINT_TYPE, 'e1', 'n2');

  const again = s.reconnected();

  assert.deepEqual(again, [
    { type_url: CLUSTER_TYPE, version_info: 'u1', resource_names: [], response_nonce: '' },
    { type_url: ENDPOINT_TYPE, version_info: '', resource_names: ['a'], response_nonce: '' },
  ]);
  assert.equal(s.pending(ENDPOINT_TYPE), undefined);
});
