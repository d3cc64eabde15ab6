import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generate, makeScenario, randomProfile, toJsonLines } from '../../../bench/scenarios/generator.js';
import { UsageError } from '../../../daemon/cli/command.js';
import { modelTrainCommand } from '../../../daemon/cli/commands/model-train.js';
import { DEFAULT_JUDGE_PARAMS } from '../../../daemon/judge/types.js';
import { defaultModel, parseModel } from '../../../daemon/model/model.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { cellsFromFile, modelFromHistoryFiles, trainFromStore } from '../../../daemon/training/sources.js';

function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => {};
  return fn().finally(() => {
    console.log = log;
  });
}

describe('umbra model train', () => {
  it('trains on recorded files through the replay path and stores a new model version', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-model-train-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const profile = randomProfile(5, 'shop');
    const files: string[] = [];
    for (const [name, kind] of [
      ['aa', 'aa'],
      ['reg', 'error_step'],
    ] as const) {
      const s = makeScenario(kind, profile, 50, 11);
      s.durationS = 40;
      const path = join(dir, `${name}.jsonl`);
      writeFileSync(path, `${toJsonLines(generate(s))}\n`);
      files.push(path);
    }
    const db = join(dir, 'umbra.db');
    const out = join(dir, 'model.json');
    const code = await quietly(() =>
      modelTrainCommand.run(['--from', files[0]!, '--regression', files[1]!, '--store', db, '--out', out]),
    );
    assert.equal(code, 0);
    const store = openStore(db);
    try {
      const row = store.latestModel();
      assert.equal(row?.version, 1);
      const parsed = parseModel({ version: row!.version, params: row!.params, trainedOn: row!.trainedOn });
      assert.ok('model' in parsed);
      assert.equal(parsed.model.trainedOn?.healthyRuns, 1);
      assert.equal(parsed.model.trainedOn?.regressionRuns, 1);
      assert.deepEqual(
        Object.keys(parsed.model.params.floors).sort(),
        profile.endpoints.map((e) => e.name).sort(),
      );
    } finally {
      store.close();
    }
    const written = parseModel(JSON.parse(readFileSync(out, 'utf8')));
    assert.ok('model' in written && written.model.version === 1);
  });

  it('trains from files for replay --history, and falls back to the defaults without history', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-model-history-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const profile = randomProfile(6, 'shop');
    const s = makeScenario('aa', profile, 50, 12);
    s.durationS = 30;
    const path = join(dir, 'aa.jsonl');
    writeFileSync(path, `${toJsonLines(generate(s))}\n`);
    const model = modelFromHistoryFiles([path], DEFAULT_JUDGE_PARAMS);
    assert.deepEqual(Object.keys(model.params.floors).sort(), profile.endpoints.map((e) => e.name).sort());
    assert.deepEqual(modelFromHistoryFiles([], DEFAULT_JUDGE_PARAMS), defaultModel());
  });

  it('refuses to run without history, and names missing files', async () => {
    await assert.rejects(() => modelTrainCommand.run([]), UsageError);
    await assert.rejects(() => modelTrainCommand.run(['--from', '/nonexistent/x.jsonl']), /no such file/);
    await assert.rejects(
      () => modelTrainCommand.run(['--from', '/dev/null', '--threshold', '40']),
      /--threshold/,
    );
  });
});

describe('training from the store', () => {
  it('learns from completed and rolled-back deployments and saves a new version', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-model-store-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const store = openStore(':memory:');
    try {
      assert.equal(trainFromStore(store, DEFAULT_JUDGE_PARAMS, 1), null);
      const profile = randomProfile(8, 'shop');
      const t0 = 1_700_000_000;
      const deployments = [
        ['good', 'aa', 'completed'],
        ['bad', 'error_step', 'rolled_back'],
        ['running', 'aa', 'shadowing'],
      ] as const;
      // Deployments follow each other in time (the store keys cells by service, endpoint, segment and second).
      deployments.forEach(([id, kind, phase], i) => {
        const from = t0 + 100 * i;
        const s = makeScenario(kind, profile, 50, 30 + i);
        s.durationS = 20;
        // The cells the daemon stored: the run's records through the daemon's pairer and aggregator,
        // at the deployment's seconds (JSON-lines seconds count from the start of the file).
        const path = join(dir, `${id}.jsonl`);
        writeFileSync(path, `${toJsonLines(generate(s))}\n`);
        const cells = cellsFromFile(path).cells.map((c) => ({
          ...c,
          key: { ...c.key, second: c.key.second + from },
        }));
        store.createDeployment({
          id,
          service: 'shop',
          version: id,
          previousVersion: null,
          phase,
          phaseData: {},
          createdAt: from * 1000,
          updatedAt: (from + 30) * 1000,
        });
        store.saveCells(cells, id);
      });
      const model = trainFromStore(store, DEFAULT_JUDGE_PARAMS, 2);
      assert.ok(model);
      assert.equal(model.version, 1);
      assert.equal(model.trainedOn?.healthyRuns, 1);
      assert.equal(model.trainedOn?.regressionRuns, 1);
      assert.deepEqual(model.trainedOn?.sources.sort(), ['deployment:bad', 'deployment:good']);
      assert.equal(store.latestModel()?.version, 1);
    } finally {
      store.close();
    }
  });
});
