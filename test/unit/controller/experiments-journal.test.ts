/**
 * The A/B experiments' record in the store: a saved experiment reads back
 * as it was (with its runner's state while it runs, without once stopped),
 * a save is due every few seconds, the series is thinned when long, and a
 * row that does not read as an experiment is named and left alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExperimentJournal, fromRow } from '../../../daemon/controller/experiments-journal.js';
import { type ExperimentStatus, startingStatus } from '../../../daemon/controller/experiments-status.js';
import { ExperimentRunner } from '../../../daemon/experiment/runner.js';
import { EXPERIMENT_DEFAULTS } from '../../../daemon/experiment/spec.js';
import { setLogLevel } from '../../../daemon/log.js';
import { defaultModel } from '../../../daemon/model/model.js';
import { openStore } from '../../../daemon/store/sqlite.js';

setLogLevel('silent');
const MIXTURE = defaultModel().params.rateMixture;

function running(): { status: ExperimentStatus; runner: ExperimentRunner } {
  const spec = {
    service: 'shop',
    version: 'v2',
    split: 30,
    outcome: { kind: 'header' as const, header: 'x-outcome', max: 5 },
    ...EXPERIMENT_DEFAULTS,
    windowMs: 1000,
  };
  const runner = new ExperimentRunner(spec, MIXTURE, 2);
  for (let u = 1; u <= 20; u++)
    runner.add({
      arm: u % 3 ? 'A' : 'B',
      user: u,
      atMs: 0,
      endpoint: '/',
      outcome: u % 5,
      failed: false,
      latencyUs: 1,
    });
  const status: ExperimentStatus = {
    ...startingStatus('shop-v2-ab-1', spec, 'v1', 0),
    phase: 'running',
    latest: runner.tick(5000),
    transitions: [{ to: 'starting', at: 0, reason: 'started' }],
  };
  return { status, runner };
}

describe('the experiments journal', () => {
  it('saves a running experiment with its state and reads it back as it was', () => {
    const store = openStore(':memory:');
    const journal = new ExperimentJournal(store, 5000);
    const { status, runner } = running();
    journal.save(status, runner, 6000);
    assert.equal(status.series.length, 1, 'a point of the answer per save');
    const [back] = journal.load(['shop', 'other'], MIXTURE.length);
    assert.deepEqual(back!.status, status);
    assert.deepEqual(back!.state, runner.snapshot());
    // Once stopped, the users and statistics leave the row; what status shows stays.
    journal.save({ ...status, phase: 'stopped', stoppedAtMs: 7000, stopReason: 'enough' }, runner, 7000);
    const [stopped] = journal.load(['shop'], MIXTURE.length);
    assert.equal(stopped!.state, null);
    assert.equal(stopped!.status.stopReason, 'enough');
    assert.deepEqual(stopped!.status.latest, status.latest);
  });

  it('is due every few seconds, and thins a long series keeping its first and last points', () => {
    const journal = new ExperimentJournal(undefined, 5000);
    const { status, runner } = running();
    assert.equal(journal.due(status.id, 0), true);
    journal.save(status, runner, 1000);
    assert.equal(journal.due(status.id, 5999), false);
    assert.equal(journal.due(status.id, 6000), true);
    for (let i = 2; i <= 800; i++) journal.save(status, runner, i * 1000);
    assert.ok(status.series.length <= 720, `${status.series.length} points`);
    assert.equal(status.series[0]!.at, 1000);
    assert.equal(status.series[status.series.length - 1]!.at, 800_000);
  });

  it('names what is wrong with a row that does not read as an experiment, and leaves it alone', () => {
    const store = openStore(':memory:');
    const journal = new ExperimentJournal(store, 5000);
    const { status, runner } = running();
    journal.save(status, runner, 6000);
    const row = store.getExperiment(status.id)!;
    assert.equal(fromRow({ ...row, phase: 'paused' }, MIXTURE.length), "phase: unknown 'paused'");
    assert.match(String(fromRow({ ...row, spec: {} }, MIXTURE.length)), /^spec.split:/);
    assert.match(
      String(fromRow({ ...row, state: { ...(row.state as object), leftOut: 7 } }, MIXTURE.length)),
      /^state.leftOut:/,
    );
    store.saveExperiment({ ...row, state: { arms: {} } });
    assert.deepEqual(journal.load(['shop'], MIXTURE.length), []);
  });

  it('refuses a stored spec a new experiment would be refused for, naming the field; a good row still loads', () => {
    const store = openStore(':memory:');
    const journal = new ExperimentJournal(store, 5000);
    const { status, runner } = running();
    journal.save(status, runner, 6000);
    const row = store.getExperiment(status.id)!;
    const spec = row.spec as Record<string, unknown>;
    assert.equal(typeof fromRow(row, MIXTURE.length), 'object', 'the good row reads');
    const cases: [Partial<typeof row>, RegExp][] = [
      [{ spec: { ...spec, split: 100 } }, /^spec.split:/],
      [{ spec: { ...spec, split: -5 } }, /^spec.split:/],
      [{ spec: { ...spec, alpha: 0.5 } }, /^spec.alpha:/],
      [{ spec: { ...spec, windowMs: 10 } }, /^spec.window:/],
      [{ spec: { ...spec, minEffect: -1 } }, /^spec.minEffect:/],
      [{ spec: { ...spec, outcome: { kind: 'revenue', header: 'x-outcome' } } }, /^spec.outcome.kind:/],
      [{ spec: { ...spec, outcome: { kind: 'header', header: 'X Out', max: 1 } } }, /^spec.outcome.header:/],
      [{ spec: { ...spec, outcome: { kind: 'conversion', path: 7 } } }, /^spec.outcome.path:/],
      [{ spec: [] }, /^spec: not an object/],
      [{ version: '../v2' }, /^spec.version:/],
      [{ stable: 'v1 --rm' }, /^stable:/],
    ];
    for (const [edit, path] of cases)
      assert.match(String(fromRow({ ...row, ...edit }, MIXTURE.length)), path, JSON.stringify(edit));
    // On load, a bad row is left alone (not resumed) and the good ones of other services still load.
    store.saveExperiment({ ...row, spec: { ...spec, alpha: 0.5 } });
    const other = running().status;
    journal.save({ ...other, id: 'cart-v2-ab-1', spec: { ...other.spec, service: 'cart' } }, runner, 6000);
    assert.deepEqual(
      journal.load(['shop', 'cart'], MIXTURE.length).map((e) => e.status.id),
      ['cart-v2-ab-1'],
    );
  });
});
