/**
 * An experiment runner's state survives the store: a runner restored from a
 * snapshot (through JSON, as the store keeps it) answers as the original
 * did, its guard goes on from the same evidence, users in their window are
 * left out and counted, and nobody already seen is counted again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExperimentRunner } from '../../../daemon/experiment/runner.js';
import { parseSnapshot, type RunnerSnapshot } from '../../../daemon/experiment/snapshot.js';
import { EXPERIMENT_DEFAULTS, type ExperimentSpec } from '../../../daemon/experiment/spec.js';
import type { ArmName } from '../../../daemon/experiment/tally.js';
import { packUsers, unpackUsers } from '../../../daemon/experiment/user-ids.js';
import { defaultModel } from '../../../daemon/model/model.js';

const RATE = defaultModel().params.rateMixture;
const SPEC: ExperimentSpec = {
  service: 'shop',
  version: 'v2',
  split: 50,
  outcome: { kind: 'conversion', path: '/buy' },
  ...EXPERIMENT_DEFAULTS,
  windowMs: 1000,
};

function visit(r: ExperimentRunner, user: number, atMs: number, buy: boolean, failed = false): void {
  const arm: ArmName = user % 2 === 0 ? 'A' : 'B';
  r.add({ arm, user, atMs, endpoint: buy ? '/buy' : '/', failed, latencyUs: 1000 });
}

/** A runner that saw 200 users (B converting more and failing some), then 10 still in their window. */
function busyRunner(): ExperimentRunner {
  const r = new ExperimentRunner(SPEC, RATE, 2);
  for (let u = 1; u <= 200; u++) visit(r, u, 1000 + u, u % 2 === 1 ? u % 3 !== 0 : u % 5 === 0, u % 7 === 1);
  r.tick(5000);
  for (let u = 201; u <= 210; u++) visit(r, u, 5500, true);
  r.tick(6000);
  return r;
}

function restored(from: ExperimentRunner): ExperimentRunner {
  const stored = JSON.parse(JSON.stringify(from.snapshot())) as unknown;
  const snap = parseSnapshot(stored, RATE.length);
  assert.notEqual(typeof snap, 'string', String(snap));
  const r = new ExperimentRunner(SPEC, RATE, 2);
  r.restore(snap as Exclude<typeof snap, string>);
  return r;
}

describe('a restored experiment', () => {
  it('answers as before: users, effect, interval; the users in their window are dropped and counted', () => {
    const before = busyRunner();
    const after = restored(before).tick(6000);
    const was = before.latest()!;
    assert.deepEqual(after.answer.users, was.answer.users);
    assert.equal(after.answer.effect, was.answer.effect);
    assert.deepEqual(after.answer.ci, was.answer.ci);
    assert.deepEqual(after.answer.openUsers, { A: 0, B: 0 });
    assert.deepEqual(was.answer.openUsers, { A: 5, B: 5 });
    assert.equal(after.answer.dropped.restart, 10);
    assert.equal(after.guard.score, was.guard.score);
  });

  it('counts no user twice: a user seen before the restart who comes back is not a new user', () => {
    const r = restored(busyRunner());
    const users = r.tick(6000).answer.users;
    for (const u of [2, 3, 204, 205]) visit(r, u, 7000, true);
    visit(r, 1001, 7000, true);
    assert.deepEqual(r.tick(9000).answer.users, { A: users.A, B: users.B + 1 });
  });

  it('goes on gathering guard evidence from where it stopped', () => {
    const r = restored(busyRunner());
    const start = r.tick(6000).guard.score;
    for (let u = 301; u <= 600; u++) visit(r, u, 7000, false, u % 2 === 1);
    assert.ok(r.tick(7500).guard.score > start + 1);
  });
});

describe('a stored snapshot is checked', () => {
  it('packs user ids to 4 bytes each, all 32 bits', () => {
    const ids = [1, 0xffffffff, 123456789];
    assert.deepEqual([...unpackUsers(packUsers(ids))], ids);
    // From a view into a larger array, as the tally packs them.
    const view = Uint32Array.from([9, ...ids, 9]).subarray(1, 4);
    assert.deepEqual([...unpackUsers(packUsers(view))], ids);
  });

  it('names the first bad field', () => {
    const good = JSON.parse(JSON.stringify(busyRunner().snapshot())) as Record<string, unknown>;
    assert.equal(parseSnapshot(null, RATE.length), 'state: not an object');
    assert.match(
      String(parseSnapshot({ ...good, arms: { A: { n: 1, sum: 2 } } }, RATE.length)),
      /^state.arms.A:/,
    );
    const guard = { ...(good['guard'] as object), errors: [1] };
    assert.match(String(parseSnapshot({ ...good, guard }, RATE.length)), /^state.guard.errors:/);
  });

  it('refuses counts that are not whole, a guard ahead of its counts, and user ids that are not packed', () => {
    const good = JSON.parse(JSON.stringify(busyRunner().snapshot())) as RunnerSnapshot;
    assert.equal(typeof parseSnapshot(good, RATE.length), 'object', 'a real snapshot still reads');
    const bad = (edit: (s: RunnerSnapshot) => void): string => {
      const s = structuredClone(good);
      edit(s);
      return String(parseSnapshot(s, RATE.length));
    };
    assert.match(
      bad((s) => {
        s.arms.B.n = 2.5;
      }),
      /^state.arms.B:/,
    );
    assert.match(
      bad((s) => {
        s.requests.A.failed = 0.5;
      }),
      /^state.requests.A:/,
    );
    assert.match(
      bad((s) => {
        s.guard.seen.A.requests = s.requests.A.requests + 1;
      }),
      /^state.guard.seen.A.requests:/,
    );
    assert.match(
      bad((s) => {
        s.finished.B = 'not base64!';
      }),
      /^state.finished.B:/,
    );
    assert.match(
      bad((s) => {
        s.open.A = Buffer.from([1, 2, 3]).toString('base64');
      }),
      /^state.open.A:/,
      'three bytes are not a whole user id',
    );
    assert.match(
      bad((s) => {
        s.leftOut = '%%%%';
      }),
      /^state.leftOut:/,
    );
  });
});
