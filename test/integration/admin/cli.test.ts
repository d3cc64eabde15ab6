import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { commands } from '../../../daemon/cli/commands/index.js';
import { waitFor } from '../../harness/index.js';
import { runCaptured } from '../../unit/cli/capture.js';
import { DECISION, startAdmin, TOKEN } from './setup.js';

describe('umbra CLI against a real admin server', () => {
  test('deploy, status (text and json), a refused command, promote, history', async (t) => {
    const { address } = await startAdmin(t);
    const auth = ['--admin', address, '--token', TOKEN];
    const umbra = (...argv: string[]) => runCaptured([...argv, ...auth], commands());

    // deploy
    let r = await umbra('deploy', 'checkout', 'v2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^deploying checkout v2 \(replacing v1\): deployment checkout-v2-\d+ is provisioning$/,
    );

    // A second deploy is refused: exit 1, the reason, in text and in JSON.
    r = await umbra('deploy', 'checkout', 'v3');
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^umbra: checkout already has deployment checkout-v2-\d+ \(v2\) in \w+; wait for it or abort it$/,
    );
    r = await umbra('deploy', 'checkout', 'v3', '-o', 'json');
    assert.equal(r.code, 1);
    const refusal = JSON.parse(r.stdout);
    assert.equal(refusal.ok, false);
    assert.equal(refusal.code, 'FAILED_PRECONDITION');

    // status: a table with the phase, score and prediction, and the evidence per endpoint and segment.
    await waitFor(
      'umbra status to say shadowing',
      async () => (await umbra('status', 'checkout')).stdout.includes('shadowing'),
      {
        timeoutMs: 5000,
      },
    );
    r = await umbra('status');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(
      lines[0]!,
      /^SERVICE\s+STABLE\s+VERSION\s+PHASE\s+WEIGHT\s+SCORE\s+VERDICT\s+TO THRESHOLD\s+NEXT$/,
    );
    assert.match(
      lines[1]!,
      /^checkout\s+v1\s+v2\s+shadowing\s+0%\s+1\.25\/3\s+insufficient \(minimum sample\)\s+~42s\s+shadow_end in (10m|9m5\ds)$/,
    );
    assert.match(lines[2]!, /^catalog\s+v7\s+-\s+idle\s+-/);
    assert.match(
      r.stdout,
      /checkout evidence \(180 pairs\):\n\s+ENDPOINT\s+SEGMENT\s+SIGNAL\s+SCORE\s+EFFECT\s+WEIGHT\n\s+GET \/pay\s+eu-west\s+errors\s+1\.10\s+0\.031\s+0\.40/,
    );
    r = await umbra('status', 'checkout', '-o', 'json');
    const json = JSON.parse(r.stdout);
    assert.equal(json.services[0].deployment.phase, 'shadowing');
    assert.equal(json.services[0].predictedSecondsToThreshold, 42);

    // A command that is not valid now: refused with the machine's reason, nothing changes.
    r = await umbra('resume', 'checkout');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'umbra: checkout is not paused');

    // promote
    r = await umbra('promote', 'checkout', '--reason', 'looks fine');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^checkout: operator promote \(looks fine\): candidate at 20% \(step 1\/2\); now promoting 1\/2$/,
    );

    // pause / resume / abort, each in json
    for (const cmd of ['pause', 'resume', 'abort']) {
      r = await umbra(cmd, 'checkout', '-o', 'json');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).ok, true);
    }

    // history, text and json
    r = await umbra('history', 'checkout');
    assert.match(r.stdout, /^checkout-v2-\d+\s+checkout v2 \(replacing v1\)\s+aborted/);
    assert.match(r.stdout, /shadowing → promoting\s+command:promote\s+operator promote \(looks fine\)/);
    r = await umbra('history', '-o', 'json', '--limit', '5');
    assert.equal(JSON.parse(r.stdout).deployments[0].transitions.at(-1).to, 'aborted');

    // explain
    r = await umbra('explain', String(DECISION.id));
    assert.match(r.stdout, new RegExp(`^decision ${DECISION.id}\\s+checkout`));
    assert.match(r.stdout, /verdict rollback: score 3\.40 against threshold 3 \(model 2\)/);
    r = await umbra('explain', '8', '-o', 'json');
    assert.equal(r.code, 1);
    assert.deepEqual(JSON.parse(r.stdout), { ok: false, code: 'NOT_FOUND', error: 'no decision 8' });
  });

  test('status --watch refreshes a bounded number of times; --until-done stops when nothing runs', async (t) => {
    const { address } = await startAdmin(t);
    const auth = ['--admin', address, '--token', TOKEN];
    let r = await runCaptured(
      ['status', '--watch', '--count', '2', '--interval', '1', '-o', 'json', ...auth],
      commands(),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').length, 2);
    r = await runCaptured(['status', '--watch', '--until-done', ...auth], commands());
    assert.equal(r.code, 0);
    assert.match(r.stdout, /checkout\s+v1\s+-\s+idle/);
    r = await runCaptured(['status', '--count', '2', ...auth], commands());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--interval, --count and --until-done need --watch/);
  });

  test('a wrong token, a token file, a missing token and bad usage', async (t) => {
    const { address } = await startAdmin(t);
    let r = await runCaptured(['status', '--admin', address, '--token', 'nope'], commands());
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'umbra: wrong admin token');
    const dir = mkdtempSync(join(tmpdir(), 'umbra-cli-'));
    writeFileSync(join(dir, 'admin.token'), `${TOKEN}\n`, { mode: 0o600 });
    r = await runCaptured(
      ['status', '--admin', address, '--token-file', join(dir, 'admin.token')],
      commands(),
    );
    assert.equal(r.code, 0, r.stderr);
    r = await runCaptured(['status', '--admin', address, '--token-file', join(dir, 'missing')], commands());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no admin token: pass --token, set UMBRA_ADMIN_TOKEN/);
    r = await runCaptured(['deploy', 'checkout', '--admin', address, '--token', TOKEN], commands());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /expected SERVICE and VERSION/);
    r = await runCaptured(
      ['promote', 'checkout', '--force', '--admin', address, '--token', TOKEN],
      commands(),
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown option '--force'/);
  });
});
