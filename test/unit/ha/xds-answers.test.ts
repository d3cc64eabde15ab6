import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { XdsAnswerFeed } from '../../../daemon/ha/xds-answers.js';
import { setLogLevel } from '../../../daemon/log.js';
import { openPostgresStore } from '../../../daemon/store/postgres.js';
import { usePostgres } from '../../harness/postgres.js';

setLogLevel('silent');

const server = usePostgres();

const open = (url: string, daemonId: string) =>
  openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000, daemonId });

const nack = (nodeId: string) => ({ nodeId, typeUrl: 'cds', version: 'v2', error: 'refused' });

test('an answer committed after a higher id was read is still handed on, once', async () => {
  // Arrange: the leader a reads; followers b and c record their proxies' answers.
  const url = await server.database();
  const a = open(url, 'a');
  const c = open(url, 'c');
  const slow = new pg.Client({ connectionString: url }); // follower b, mid-INSERT
  await slow.connect();
  try {
    const feed = new XdsAnswerFeed(a.xds, a.xds.answersBefore(30_000));
    assert.deepEqual(feed.read(), []);

    // b's INSERT takes id N and has not committed; c's takes N+1 and commits.
    await slow.query('BEGIN');
    await slow.query(`INSERT INTO umbra_xds_answers (daemon, kind, answer) VALUES ('b', 'nack', $1)`, [
      JSON.stringify(nack('proxy-b')),
    ]);
    c.xds.recordAnswer('ack', nack('proxy-c'));

    // Act / Assert: the leader polls in the gap and sees N+1 only.
    assert.deepEqual(
      feed.read().map((r) => [r.daemon, r.kind]),
      [['c', 'ack']],
    );

    // b commits N: the next poll hands it on, and no poll after hands anything on again.
    await slow.query('COMMIT');
    assert.deepEqual(
      feed.read().map((r) => [r.daemon, r.kind, (r.answer as { nodeId: string }).nodeId]),
      [['b', 'nack', 'proxy-b']],
    );
    assert.deepEqual(feed.read(), []);
    c.xds.recordAnswer('ack', nack('proxy-c2'));
    assert.deepEqual(
      feed.read().map((r) => (r.answer as { nodeId: string }).nodeId),
      ['proxy-c2'],
    );
    assert.deepEqual(feed.read(), []);
  } finally {
    await slow.end();
    a.close();
    c.close();
  }
});
