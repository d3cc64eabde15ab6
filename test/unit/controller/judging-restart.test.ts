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
function cell(second: number, share = 1): CellStats {
  const candidate = {
    ...emptyPaired(),
    pairs: 40 * share,
    shadowFailed: 4 * share,
    errShadowOnly: 4 * share,
    latPairs: 36 * share,
  };
  return {
    key: { service: 'checkout', endpoint: 'GET /pay', segment: 'eu-west', second },
    candidate,
    baseline: emptyPaired(),
    live: {},
    examples: {},
  };
}

function loop(store: ReturnType<typeof openStore>, verdicts: string[], finalThrough?: () => number) {
  const scheduler = {
    latest: () => deployment,
    verdict: (_s: string, _subject: string, v: { verdict: string }) => verdicts.push(v.verdict),
  } as unknown as RolloutScheduler;
  return new JudgingLoop({
    services,
    scheduler,
    store,
    now: () => (FIRST + SECONDS + 10) * 1000,
    ...(finalThrough ? { finalThrough } : {}),
  });
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

test('with a shared store, the replay stops at the last second every daemon closed', () => {
  // Arrange: the store holds every second whole up to FINAL; after it, only a faster daemon's half
  // of each second so far (the slower one is still aggregating them).
  const FINAL = FIRST + SECONDS - 6;
  const store = openStore(':memory:');
  storeDeploymentRepo(store).create(deployment, 'deploy');
  const whole = Array.from({ length: SECONDS }, (_, i) => cell(FIRST + i));
  const uninterrupted = loop(openStore(':memory:'), []);
  for (const c of whole) uninterrupted.onSecond([c]);
  saveTaggedCells(
    store,
    whole.filter((c) => c.key.second <= FINAL),
  );
  saveTaggedCells(
    store,
    whole.filter((c) => c.key.second > FINAL).map((c) => cell(c.key.second, 0.5)),
  );

  // Act: a new leader's loop gets the seconds after FINAL whole, as they become final for all
  // (while the first of them is handed on, the last final one is still FINAL).
  const leader = loop(store, [], () => FINAL);
  for (const c of whole.filter((c) => c.key.second > FINAL)) leader.onSecond([c]);

  // Assert: what the loop that saw every second whole says; without the cap the replay would take
  // the halves of the last seconds and then drop their whole versions as already judged.
  assert.deepEqual(leader.evidence('checkout'), uninterrupted.evidence('checkout'));
});
