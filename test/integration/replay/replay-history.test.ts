/**
 * `umbra replay --history A/A-FILE… FILE`: the judge is trained on recorded
 * history first, then replays the last file with the trained model. Run as a
 * real process, reading real files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { generate, makeScenario, randomProfile, toJsonLines } from '../../../bench/scenarios/generator.js';

const CLI = join(import.meta.dirname, '..', '..', '..', 'daemon', 'cli', 'dev.ts');

function replay(args: string[]): Record<string, unknown>[] {
  const out = execFileSync(process.execPath, ['--import', 'tsx', CLI, 'replay', ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, UMBRA_LOG_LEVEL: 'error' },
  });
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('replay --history trains a model on A/A history and judges the replayed file with it', {
  timeout: 120_000,
}, () => {
  // Arrange: two A/A runs as history and one 5xx step to judge, all from the same service profile.
  const dir = mkdtempSync(join(tmpdir(), 'umbra-history-'));
  const profile = randomProfile(11);
  const files = [1, 2].map((seed) => {
    const f = join(dir, `aa-${seed}.jsonl`);
    writeFileSync(f, toJsonLines(generate(makeScenario('aa', profile, 100, seed))));
    return f;
  });
  const target = join(dir, 'step.jsonl');
  writeFileSync(target, toJsonLines(generate(makeScenario('error_step', profile, 100, 3))));

  // Act
  const trained = replay(['--history', files[0]!, '--history', files[1]!, target]);
  const untrained = replay([target]);

  // Assert: the trained run says which model it used, and both end with a summary.
  const model = trained.find((l) => l['type'] === 'model');
  assert.ok(model, 'no model line');
  assert.ok(
    (model['trainedOn'] as Record<string, unknown> | null) !== null,
    'model was not trained on the history',
  );
  assert.equal(trained[trained.length - 1]!['type'], 'summary');
  assert.equal(
    untrained.find((l) => l['type'] === 'model'),
    undefined,
  );
  const firstRollback = (lines: Record<string, unknown>[]) =>
    lines.find((l) => l['type'] === 'verdict' && l['verdict'] === 'rollback')?.['t_us'] as number | undefined;
  assert.ok(firstRollback(trained) !== undefined, 'the trained judge must catch the 5xx step');
});

test('replay --history refuses a missing history file with its path', () => {
  assert.throws(
    () => replay(['--history', '/nonexistent/history.jsonl', '/nonexistent/target.jsonl']),
    (err: Error & { stderr?: string }) => String(err.stderr).includes('/nonexistent'),
  );
});
