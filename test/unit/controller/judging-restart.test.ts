/**
 * After a daemon restart the judging loop rebuilds a phase's evidence from the
 * cells the store kept, so a restarted loop says what one that never stopped
 * would have said (real SQLite, in memory; no processes).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CellStats, emptyPaired } from '../../../daemon/aggregate/stats.js';
import { JudgingLoop } from '../../../daemon/controller/judging.js';
import { saveTaggedCells } from '../../../daemon/parts/store.js';
import type { RolloutScheduler } from '../../../daemon/rollout/scheduler.js';
import { storeDeploymentRepo } from '../../../daemon/rollout/store-repo.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { shadowing } from '../rollout/fixtures.js';
import { checkoutConfig } from './fixtures.js';

const services = checkoutConfig('    judge: { warmup: 1s, minSamples: 10 }').services;

const deployment = { ...shadowing(), service: 'checkout' };
const FIRST = Math.floor(deployment.phaseStartedAt / 1000) + 1;
const SECONDS = 40;

/** A second where the candidate fails about one pair in ten more than production. */
function cell(second: number): CellStats {
  const candidate = { ...emptyPaired(), pairs: 40, shadowFailed: 4, errShadowOnly: 4, latPairs: 36 };
  return {
    key: { service: 'checkout', endpoint: 'GET /pay', segment: 'eu-west', second },
    candidate,
    baseline: emptyPaired(),
    live: {},
    examples: {},
  };
}

function loop(store: ReturnType<typeof openStore>, verdicts: string[]) {
  const scheduler = {
    latest: () => deployment,
    verdict: (_s: string, _subject: string, v: { verdict: string }) => verdicts.push(v.verdict),
  } as unknown as RolloutScheduler;
  return new JudgingLoop({ services, scheduler, store, now: () => (FIRST + SECONDS + 10) * 1000 });
}

test('a judging loop started after a restart rebuilds the phase’s evidence from the stored cells', () => {
  // Arrange: one loop sees every second live; the store keeps the cells as the daemon does.
  const store = openStore(':memory:');
  storeDeploymentRepo(store).create(deployment, 'deploy');
  const uninterrupted = loop(openStore(':memory:'), []);
  const cells = Array.from({ length: SECONDS }, (_, i) => cell(FIRST + i));
  for (const c of cells.slice(0, -1)) {
    uninterrupted.onSecond([c]);
    saveTaggedCells(store, [c]); // as the daemon's persist-stats part saves them
  }
  uninterrupted.onSecond([cells.at(-1)!]);

  // Act: a new loop (the daemon restarted) gets only the last second live.
  const verdicts: string[] = [];
  const restarted = loop(store, verdicts);
  restarted.onSecond([cells.at(-1)!]);

  // Assert: the same evidence as the loop that never stopped, counting every stored pair.
  const before = uninterrupted.evidence('checkout');
  const after = restarted.evidence('checkout');
  assert.ok(after, 'evidence after the restart');
  // (A loop that only judged the last second would count 40 pairs.)
  assert.ok(after.pairs > 30 * 40, `pairs ${after.pairs}`);
  assert.deepEqual(after, before);
  assert.equal(verdicts.length, 1);
});

test('each second is judged once, though the store saved it before the loop sees it (the daemon’s order)', () => {
  // Arrange: persist-stats is started before the controller, so a second's cells are in the store
  // when the judging loop gets them; a loop whose run begins on that second replays the store.
  const store = openStore(':memory:');
  storeDeploymentRepo(store).create(deployment, 'deploy');
  const cells = Array.from({ length: SECONDS }, (_, i) => cell(FIRST + i));
  const live = loop(store, []);

  // Act: every second saved, then handed to the loop; then a restarted loop gets one more.
  for (const c of cells.slice(0, -1)) {
    saveTaggedCells(store, [c]);
    live.onSecond([c]);
  }
  const restarted = loop(store, []);
  saveTaggedCells(store, [cells.at(-1)!]);
  restarted.onSecond([cells.at(-1)!]);

  // Assert: 40 pairs a second after the first (warm-up), each second once: the restart's was
  // counted twice before (replayed from the store, then judged as it arrived).
  assert.equal(live.evidence('checkout')?.pairs, (SECONDS - 2) * 40);
  assert.equal(restarted.evidence('checkout')?.pairs, (SECONDS - 1) * 40);
});
