import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdsStream } from '../../../daemon/xds/ads-stream.js';
import { NodeTable } from '../../../daemon/xds/nodes.js';
import { createSnapshot, type Snapshot } from '../../../daemon/xds/snapshot.js';
import { CLUSTER_TYPE, type TypeUrl } from '../../../daemon/xds/type-urls.js';

function clusters(timeoutSeconds: number): Snapshot {
  const r = createSnapshot({
    clusters: [{ name: 'a', type: 'STATIC', connect_timeout: { seconds: timeoutSeconds } }],
  });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.snapshot;
}

function stream(nodeId: string): AdsStream {
  const s = new AdsStream({ opened: () => {}, snapshot: () => undefined, report: () => {} }, () => {});
  s.nodeId = nodeId;
  return s;
}

const at = '2026-01-01T00:00:00.000Z';
const version = (s: Snapshot, t: TypeUrl = CLUSTER_TYPE) => s.types.get(t)!.version;

test('a snapshot becomes the last good one when every non-empty type is ACKed', () => {
  const table = new NodeTable();
  const good = clusters(1);
  table.publish('n', good);

  table.ack({ nodeId: 'n', typeUrl: CLUSTER_TYPE, version: version(good), nonce: '1', streamId: 1 });

  assert.equal(table.lastGood('n'), good);
  assert.deepEqual(table.status('n')?.acked, { CDS: version(good) });
});

test('after a NACK of the current snapshot, new streams get the last good one until a new publish', () => {
  const table = new NodeTable();
  const good = clusters(1);
  const bad = clusters(2);
  table.publish('n', good);
  table.ack({ nodeId: 'n', typeUrl: CLUSTER_TYPE, version: version(good), nonce: '1', streamId: 1 });
  const old = stream('n');
  table.open(old);
  table.publish('n', bad);
  table.nack({
    nodeId: 'n',
    typeUrl: CLUSTER_TYPE,
    version: version(bad),
    nonce: '2',
    streamId: 1,
    resources: ['a'],
    code: 3,
    message: 'no',
    at,
  });

  const fresh = stream('n');
  const opened = table.open(fresh);

  assert.equal(opened.pinned, true);
  assert.equal(table.snapshotFor(fresh), good);
  assert.equal(
    table.snapshotFor(old),
    bad,
    'the stream that refused it is not re-sent the same version anyway',
  );
  const fixed = clusters(3);
  table.publish('n', fixed);
  assert.equal(table.snapshotFor(fresh), fixed);
  assert.equal(table.status('n')?.lastNack?.message, 'no');
});

test('a NACK of an older version does not mark the current snapshot rejected', () => {
  const table = new NodeTable();
  const good = clusters(1);
  table.publish('n', good);
  table.ack({ nodeId: 'n', typeUrl: CLUSTER_TYPE, version: version(good), nonce: '1', streamId: 1 });
  table.publish('n', clusters(2));

  table.nack({
    nodeId: 'n',
    typeUrl: CLUSTER_TYPE,
    version: 'older',
    nonce: '2',
    streamId: 1,
    resources: ['a'],
    code: 3,
    message: 'x',
    at,
  });

  assert.equal(table.open(stream('n')).pinned, false);
});

test('a node without a snapshot is forgotten with its last stream; one with a snapshot is kept', () => {
  const table = new NodeTable();
  const stranger = stream('stranger');
  const known = stream('known');
  table.publish('known', clusters(1));
  table.open(stranger);
  table.open(known);

  table.close(stranger);
  table.close(known);

  assert.deepEqual(table.ids(), ['known']);
  assert.equal(table.status('known')?.streams, 0);
});
