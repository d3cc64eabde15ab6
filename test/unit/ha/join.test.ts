import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import type { UmbraConfig } from '../../../daemon/config/schema.js';
import { LeaderLease } from '../../../daemon/ha/lease.js';
import { ConfigMismatchError, joinDaemons } from '../../../daemon/ha/members.js';
import { openSharedStore } from '../../../daemon/ha/open.js';
import { setLogLevel } from '../../../daemon/log.js';
import { PG_MIGRATIONS } from '../../../daemon/store/pg-migrations.js';
import { openPostgresStore } from '../../../daemon/store/postgres.js';
import { freePort } from '../../harness/ports.js';
import { usePostgres } from '../../harness/postgres.js';

setLogLevel('silent');

const pg = usePostgres();

function config(yaml: string): UmbraConfig {
  const r = parseConfig(yaml);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
}

const SERVICE = (pct: number, admin: string) => `
daemon:
  admin: {listen: "${admin}"}
services:
  - name: checkout
    stable: v1
    provisioner: {kind: static, versions: {v1: {endpoints: ["127.0.0.1:9001"]}, v2: {endpoints: ["127.0.0.1:9002"]}}}
    mirroring: {shadowPercentage: ${pct}}
`;

async function migrated(): Promise<string> {
  const url = await pg.database();
  openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000 }).close();
  return url;
}

const join = (url: string, id: string, cfg: UmbraConfig) =>
  joinDaemons({ url, id, address: id, config: cfg, leaseMs: 5000, connectTimeoutMs: 2000 });

test('a second daemon with a different umbra.yaml is refused, naming the setting; per-daemon settings may differ', async () => {
  const url = await migrated();
  await join(url, 'a', config(SERVICE(10, '127.0.0.1:7371')));
  // Where it listens is one daemon's own.
  await join(url, 'b', config(SERVICE(10, '127.0.0.1:7171')));
  await assert.rejects(
    join(url, 'c', config(SERVICE(20, '127.0.0.1:7271'))),
    (err: Error) =>
      err instanceof ConfigMismatchError && /services\[0\]\.mirroring\.shadowPercentage/.test(err.message),
  );
});

test('a daemon that stopped cleanly no longer holds its configuration against the next one', async () => {
  const url = await migrated();
  const a = new LeaderLease({ url, holder: 'a', address: 'a', leaseMs: 5000, connectTimeoutMs: 2000 });
  await join(url, 'a', config(SERVICE(10, '127.0.0.1:7371')));
  await a.tryOnce();
  await a.stop();
  await join(url, 'b', config(SERVICE(20, '127.0.0.1:7371')));
});

test('a schema newer than this build is refused with both versions', async () => {
  const url = await migrated();
  const s = openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000 });
  s.close();
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('UPDATE umbra_schema SET version = $1', [PG_MIGRATIONS.length + 3]);
  await c.end();
  await assert.rejects(
    openSharedStore({ url, connectTimeout: 2000, timeout: 2000, lease: 5000 }),
    new RegExp(
      `schema version ${PG_MIGRATIONS.length + 3} is newer than this umbra \\(${PG_MIGRATIONS.length}\\)`,
    ),
  );
});

test('an unreachable PostgreSQL at start is retried with backoff until it answers', async () => {
  const port = await freePort();
  const stop = new AbortController();
  // Nothing listens there: the attempts fail until the caller gives up.
  const nowhere = {
    url: `postgres://umbra@127.0.0.1:${port}/umbra`,
    connectTimeout: 1000,
    timeout: 1000,
    lease: 5000,
  };
  const failing = openSharedStore(nowhere, { signal: stop.signal, firstPauseMs: 20 });
  stop.abort();
  await assert.rejects(failing, /stopped while waiting for PostgreSQL/);

  // A server that comes up while the daemon waits is used once it answers.
  await pg.server().halt();
  const opening = openSharedStore(
    { ...nowhere, url: pg.server().url },
    { firstPauseMs: 50, maxPauseMs: 200 },
  );
  await pg.server().resume();
  const s = await opening;
  assert.equal(s.listDeployments().length, 0);
  s.close();
});
