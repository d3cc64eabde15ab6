/**
 * While baking the new version serves production and the mirror runs the old
 * one, so the judging loop swaps the arms: the candidate stays the subject of
 * every signal, and a missing mirror (the old version) is no evidence against it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PairedCounts } from '../../../daemon/aggregate/stats.js';
import { swapArms } from '../../../daemon/controller/judging.js';

const COUNTS: PairedCounts = {
  pairs: 100,
  primaryFailed: 9,
  shadowFailed: 2,
  errShadowOnly: 1,
  errPrimaryOnly: 8,
  shadowMissing: 1,
  latShadowSlower: 3,
  latPrimarySlower: 40,
  tailShadowOnly: 0,
  tailPrimaryOnly: 5,
  statusMismatch: 9,
  bodyMismatch: 4,
  latDeltaSumUs: -250_000,
  latPairs: 43,
  latPrimarySumUs: 4_300_000,
  bodyHashed: 90,
  bodyNovel: 2,
};

test('baking judges the new version, now primary, as if it were the shadow', () => {
  const s = swapArms(COUNTS);

  // The new version (primary while baking) failing alone counts against it.
  assert.equal(s.shadowFailed, 9);
  assert.equal(s.primaryFailed, 2);
  assert.equal(s.errShadowOnly, 8);
  assert.equal(s.errPrimaryOnly, 1);
  assert.equal(s.latShadowSlower, 40);
  assert.equal(s.latPrimarySlower, 3);
  assert.equal(s.tailShadowOnly, 5);
  assert.equal(s.tailPrimaryOnly, 0);
  assert.equal(s.latDeltaSumUs, 250_000);
  // Relative latency is measured against the old version (the mirror): its sum is primary + delta.
  assert.equal(s.latPrimarySumUs, 4_050_000);
  // Symmetric counts stay; the old version's missing mirrors are not evidence.
  assert.equal(s.pairs, 100);
  assert.equal(s.statusMismatch, 9);
  assert.equal(s.bodyMismatch, 4);
  assert.equal(s.bodyHashed, 90);
  assert.equal(s.shadowMissing, 0);
});

test('swapping twice gives the counts back, less the missing mirrors', () => {
  assert.deepEqual(swapArms(swapArms(COUNTS)), { ...COUNTS, shadowMissing: 0 });
});
