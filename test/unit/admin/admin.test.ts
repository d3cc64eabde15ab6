import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { view } from '../../../daemon/admin/rollout-backend.js';
import { ensureAdminToken, readAdminToken, tokenMatches } from '../../../daemon/admin/token.js';
import { evidenceFromVerdict } from '../../../daemon/controller/evidence.js';
import type { Verdict } from '../../../daemon/judge/types.js';
import { verdictEvent } from '../../../daemon/rollout/judge-verdict.js';
import { step } from '../../../daemon/rollout/machine.js';
import { ev, promotingAt, shadowing, T0 } from '../rollout/fixtures.js';

const VERDICT: Verdict = {
  verdict: 'rollback',
  score: 3.6,
  threshold: 3,
  culprits: [{ endpoint: 'GET /pay', segment: 'eu-west', signal: 'errors' }],
  reason: null,
  modelVersion: 1,
  explanation: {
    pairs: 812,
    missingShadows: 3,
    model: [],
    signals: [
      {
        name: 'errors',
        endpoint: 'GET /pay',
        segment: 'eu-west',
        counts: { errShadowOnly: 40, errPrimaryOnly: 1 },
        effectSize: 0.049,
        eValue: 4000,
        weight: 0.4,
      },
    ],
    examples: ['a1', 'b2'],
    predictedSecondsToThreshold: null,
  },
};

describe('admin token', () => {
  test('created once with mode 0600, then read back; the environment overrides it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-token-'));
    const file = join(dir, 'sub', 'admin.token');
    const saved = process.env['UMBRA_ADMIN_TOKEN'];
    delete process.env['UMBRA_ADMIN_TOKEN'];
    try {
      const token = ensureAdminToken(file);
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(readFileSync(file, 'utf8'), `${token}\n`);
      assert.equal(ensureAdminToken(file), token);
      assert.equal(readAdminToken(file), token);
      process.env['UMBRA_ADMIN_TOKEN'] = 'from-env';
      assert.equal(ensureAdminToken(file), 'from-env');
    } finally {
      if (saved === undefined) delete process.env['UMBRA_ADMIN_TOKEN'];
      else process.env['UMBRA_ADMIN_TOKEN'] = saved;
    }
  });

  test('a token file group or others may read is refused, by the daemon and the CLI alike', () => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-token-'));
    const file = join(dir, 'admin.token');
    writeFileSync(file, 'secret\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    const saved = process.env['UMBRA_ADMIN_TOKEN'];
    delete process.env['UMBRA_ADMIN_TOKEN'];
    try {
      const refused = (e: unknown) =>
        (e as Error).message.startsWith(
          `${file}: the admin token file is readable by group or others (mode 0644); run chmod 600`,
        );
      assert.throws(() => readAdminToken(file), refused);
      assert.throws(() => ensureAdminToken(file), refused);
      chmodSync(file, 0o640);
      assert.throws(() => readAdminToken(file), /mode 0640/);
      chmodSync(file, 0o600);
      assert.equal(readAdminToken(file), 'secret');
    } finally {
      if (saved !== undefined) process.env['UMBRA_ADMIN_TOKEN'] = saved;
    }
  });

  test('the directory created for a token file is private (0700)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-token-'));
    const saved = process.env['UMBRA_ADMIN_TOKEN'];
    delete process.env['UMBRA_ADMIN_TOKEN'];
    try {
      ensureAdminToken(join(dir, '.umbra', 'admin.token'));
      assert.equal(statSync(join(dir, '.umbra')).mode & 0o777, 0o700);
    } finally {
      if (saved !== undefined) process.env['UMBRA_ADMIN_TOKEN'] = saved;
    }
  });

  test('tokenMatches compares exactly', () => {
    assert.ok(tokenMatches('abc', 'abc'));
    assert.ok(!tokenMatches('abc', 'abd'));
    assert.ok(!tokenMatches('', 'abc'));
    assert.ok(!tokenMatches('abc ', 'abc'));
  });
});

describe('admin views', () => {
  test('a deployment view names its step, timer and pause', () => {
    const { state } = promotingAt(1);
    const v = view(state);
    assert.equal(v.phase, 'promoting');
    assert.equal(v.step, 2);
    assert.equal(v.steps, 3);
    assert.equal(v.candidateWeight, 50);
    assert.equal(v.deadlineTimer, 'step_end');
    assert.equal(v.paused, false);
    const paused = view(step(shadowing(), ev.command('pause', T0 + 2000, 'lunch')).state);
    assert.equal(paused.paused, true);
    assert.equal(paused.pausedReason, 'operator pause (lunch)');
    assert.equal(paused.deadlineTimer, '');
    assert.equal(paused.step, 0);
  });

  test('a judge verdict becomes status evidence (score = log10 e-value) and a rollout event', () => {
    const e = evidenceFromVerdict(VERDICT);
    assert.deepEqual(e.culprits, ['GET /pay eu-west errors']);
    assert.equal(e.pairs, 812);
    assert.equal(e.evidence[0]!.score.toFixed(3), '3.602');
    assert.equal(e.predictedSecondsToThreshold, null);
    const body = verdictEvent(VERDICT, 'candidate', 12);
    assert.equal(body.type, 'verdict');
    const r = step(shadowing(), { ...body, at: T0 + 5000 });
    assert.equal(r.state.phase, 'rolling_back');
    assert.equal(r.state.rollback?.decisionId, 12);
    assert.match(r.state.rollback?.reason ?? '', /anomaly score 3\.60 ≥ 3 \(GET \/pay eu-west errors\)/);
  });
});
