import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { reportCommand } from '../../../daemon/cli/commands/report.js';
import { setLogLevel } from '../../../daemon/log.js';
import { openPostgresStore } from '../../../daemon/store/postgres.js';
import { freePort } from '../../harness/ports.js';
import { usePostgres } from '../../harness/postgres.js';
import { runCaptured } from '../cli/capture.js';
import { seedRegression } from './fixture.js';

setLogLevel('silent');

const pg = usePostgres();
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function configFile(t: { after(fn: () => void): void }, url: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-report-pg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'umbra.yaml');
  writeFileSync(
    file,
    `daemon:\n  store: { path: ${dir}/none.db, postgres: { url: '${url}', timeout: 1s } }\n`,
  );
  return { dir, file };
}

test('umbra report -c reads the shared PostgreSQL store the configuration names', async (t) => {
  const url = await pg.database();
  const store = openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 5000 });
  const { id } = seedRegression(store, T0);
  store.close();
  const { dir, file } = configFile(t, url);
  const out = join(dir, 'r.html');
  const r = await runCaptured(['report', id, '-c', file, '-o', out], [reportCommand]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(out, 'utf8'), new RegExp(id));
});

test('umbra report -c with an unreachable shared store: one line naming the setting, exit 1', async (t) => {
  const { file } = configFile(t, `postgres://umbra@127.0.0.1:${await freePort()}/umbra`);
  const r = await runCaptured(['report', 'shop-v2-1', '-c', file], [reportCommand]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr.trim(),
    /^umbra report: daemon\.store\.postgres \(127\.0\.0\.1:\d+\/umbra\): PostgreSQL unavailable/,
  );
});
