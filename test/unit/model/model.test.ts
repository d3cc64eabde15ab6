import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultModel, floorFor, parseModel, serializeModel } from '../../../daemon/model/model.js';

describe('model (de)serialisation', () => {
  it('round-trips through JSON', () => {
    const m = defaultModel();
    m.params.floors['GET /a'] = {
      pairs: 10,
      discordantErrorRate: 0.01,
      primaryErrorRate: 0.01,
      statusMismatchRate: 0,
      bodyMismatchRate: 0.5,
    };
    const parsed = parseModel(JSON.parse(serializeModel(m)));
    assert.ok('model' in parsed);
    assert.deepEqual(parsed.model, m);
  });

  it('names the path of every problem', () => {
    const m = JSON.parse(serializeModel(defaultModel()));
    m.version = -1;
    m.params.floors = { 'GET /a': { pairs: 1, discordantErrorRate: 2 } };
    m.params.signMixture = [{ x: 0.4, w: 1 }];
    m.params.rateMixture = [{ x: 2, w: 0.5 }];
    const parsed = parseModel(m);
    assert.ok('errors' in parsed);
    const paths = parsed.errors.map((e) => e.path);
    assert.ok(paths.includes('version'));
    assert.ok(paths.includes('params.floors["GET /a"].discordantErrorRate'));
    assert.ok(paths.includes('params.floors["GET /a"].primaryErrorRate'));
    assert.ok(paths.includes('params.signMixture[0].x'));
    assert.ok(paths.includes('params.rateMixture'));
  });

  it('refuses what is not a model', () => {
    assert.ok('errors' in parseModel(null));
    assert.ok('errors' in parseModel({ version: 1 }));
  });

  it('falls back to the default floor for unknown endpoints', () => {
    const m = defaultModel();
    assert.equal(floorFor(m, 'GET /nowhere'), m.params.defaultFloor);
    assert.equal(m.params.defaultFloor.bodyMismatchRate, 1);
  });
});
