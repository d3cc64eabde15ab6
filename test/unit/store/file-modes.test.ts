/**
 * The store's files are the owner's only: a new database (and SQLite's -wal
 * and -shm beside it) is 0600 in a 0700 directory, and a database an older
 * umbra left 0644 is tightened when opened. Real SQLite files on disk.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setLogLevel } from '../../../daemon/log.js';
import { openStore } from '../../../daemon/store/sqlite.js';

setLogLevel('silent');

const modeOf = (p: string) => statSync(p).mode & 0o777;

test('a new store is 0600 (with its -wal and -shm) in a new 0700 directory', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'umbra-store-modes-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const path = join(root, '.umbra', 'umbra.db');
  const store = openStore(path);
  try {
    store.createDeployment({
      id: 'd1',
      service: 'checkout',
      version: 'v2',
      previousVersion: 'v1',
      phase: 'provisioning',
      phaseData: {},
      createdAt: 1,
      updatedAt: 1,
    });
    assert.equal(modeOf(join(root, '.umbra')), 0o700);
    assert.equal(modeOf(path), 0o600);
    assert.equal(modeOf(`${path}-wal`), 0o600);
    assert.equal(modeOf(`${path}-shm`), 0o600);
  } finally {
    store.close();
  }
});

test('a store left readable by others, in a .umbra left 0755, is made private when opened', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'umbra-store-modes-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, '.umbra');
  const path = join(dir, 'umbra.db');
  openStore(path).close();
  chmodSync(path, 0o644);
  chmodSync(dir, 0o755);
  const store = openStore(path);
  store.close();
  assert.equal(modeOf(path), 0o600);
  assert.equal(modeOf(dir), 0o700);
  assert.equal(modeOf(root), 0o700, 'a directory above is not the store’s to change (mkdtemp made it 0700)');
});

test('a directory other than .umbra holding the store keeps its mode', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'umbra-store-modes-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'shared');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  openStore(join(dir, 'umbra.db')).close();
  assert.equal(modeOf(dir), 0o755);
  assert.equal(modeOf(join(dir, 'umbra.db')), 0o600);
});
