/**
 * A report written by `umbra report` opened in a real headless Chromium:
 * every chart holds its series with points and paints its canvas, the
 * culprit is shown, the score line crosses the threshold at the rollback,
 * the service's A/B test is shown with its decision and its interval over
 * time, nothing is logged as an error, and no request leaves the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';
import { reportCommand } from '../../../daemon/cli/commands/report.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { runCaptured } from '../../unit/cli/capture.js';
import { chaosRegression, seedAbTest, seedChaosRun } from '../../unit/report/experiment-fixture.js';
import { seedRegression } from '../../unit/report/fixture.js';
import {
  assertCrossesAtRollback,
  assertDrawn,
  drawnCharts,
  openPage,
  screenshotPath,
  startBrowser,
} from './browser.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

test('a report opens offline in Chromium with every view drawn', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-report-browser-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'umbra.db');
  const store = openStore(db);
  const { id } = seedRegression(store, T0);
  seedAbTest(store, T0 - 3_600_000);
  seedChaosRun(store, chaosRegression(T0 - 120_000));
  store.close();
  const file = join(dir, 'report.html');
  const r = await runCaptured(['report', id, '--store', db, '-o', file], [reportCommand]);
  assert.equal(r.code, 0, r.stderr);

  const ctx = await startBrowser(t);
  const { page, errors, requests } = await openPage(ctx);
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-rendered]', { timeout: 30_000 });

  const charts = await drawnCharts(page);
  assert.deepEqual(Object.keys(charts).sort(), ['ab0', 'latency0', 'latency1', 'rates', 'score']);
  assertCrossesAtRollback(assertDrawn('score', charts['score']));
  for (const name of ['latency0', 'latency1']) {
    const lat = assertDrawn(name, charts[name]);
    assert.deepEqual(
      Object.keys(lat)
        .slice(1)
        .map((l) => l.split(' ')[0]),
      ['primary', 'candidate', 'live'],
    );
  }
  assertDrawn('rates', charts['rates']);

  assert.match((await page.locator('#culprits').textContent()) ?? '', /\/cart eu errors/);
  assert.match((await page.locator('#heatmap .isculprit').textContent()) ?? '', /\/cart eu/);
  const heatCells = await page.locator('#heatmap .cell').count();
  assert.ok(heatCells >= 9 * 10, `heat map cells: ${heatCells}`);
  assert.match((await page.locator('#examples').textContent()) ?? '', /req-/);
  assert.match((await page.locator('#config').textContent()) ?? '', /shadowPercentage\s*50/);
  assert.equal(await page.locator('.timeline [data-phase]').count(), 5);
  // The A/B test: its decision and why, its arms, and its interval over time around the effect.
  assert.match(
    (await page.locator('#ab-decision-0').textContent()) ?? '',
    /^b_better \(winner B\): B \(v2\) is better: the 95 % anytime-valid interval/,
  );
  assert.match((await page.locator('#ab-arms-0').textContent()) ?? '', /Av1\d+.*Bv2\d+/);
  // The chaos run the store keeps: its verdict and culprit, and each arm under the faults.
  assert.match(
    (await page.locator('#chaos-verdict-0').textContent()) ?? '',
    /^resilience regression at \/cart\/errors/,
  );
  assert.match((await page.locator('#chaos-arms-0').textContent()) ?? '', /candidatev2900/);
  const ab = assertDrawn('ab0', charts['ab0']);
  assert.deepEqual(Object.keys(ab).slice(1), ['effect B − A', 'interval low', 'interval high', 'zero']);

  assert.deepEqual(errors, []);
  assert.deepEqual(
    requests.filter((u) => !u.startsWith('file:')),
    [],
    'no request leaves the file',
  );
  await page.screenshot({ path: screenshotPath('report.png'), fullPage: true });
});
