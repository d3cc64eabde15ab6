/**
 * The live page (/ui) served over real HTTP from a real SQLite store, behind
 * the admin token, opened in a real headless Chromium: the same views as a
 * report, redrawn as the daemon learns more, the chaos experiments the
 * daemon holds, and a clear message when there is nothing to show.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { startUiServer, type UiServer } from '../../../daemon/admin/ui-server.js';
import type { HeldExperiments } from '../../../daemon/report/experiments.js';
import { type LiveScore, withLiveScore } from '../../../daemon/report/live.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import type { Store } from '../../../daemon/store/store.js';
import { chaosRegression } from '../../unit/report/experiment-fixture.js';
import { seedRegression } from '../../unit/report/fixture.js';
import {
  assertCrossesAtRollback,
  assertDrawn,
  drawnCharts,
  openPage,
  renderedAfter,
  screenshotPath,
  startBrowser,
} from './browser.js';

const TOKEN = 'live-page-token';
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

async function serve(
  t: TestContext,
  store: Store,
  live?: () => LiveScore,
  held?: HeldExperiments,
): Promise<UiServer> {
  const ui = await startUiServer({
    store,
    ...(held ? { held } : {}),
    token: TOKEN,
    host: '127.0.0.1',
    port: 0,
    ...(live
      ? {
          live: (r) =>
            r.ok
              ? { ...r, report: withLiveScore(r.report, live(), r.report.deployment.phase, Date.now()) }
              : r,
        }
      : {}),
  });
  t.after(() => ui.close());
  return ui;
}

function tempStore(t: TestContext): Store {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-live-page-'));
  const store = openStore(join(dir, 'umbra.db'));
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

test('the live page is read-only and needs the admin token', { timeout: 60_000 }, async (t) => {
  const store = tempStore(t);
  seedRegression(store, T0);
  const ui = await serve(t, store);
  const base = ui.url;
  for (const [url, init] of [
    [base, {}],
    [`${base}/data`, {}],
    [`${base}/data`, { headers: { authorization: 'Bearer wrong' } }],
    [`${base}?token=wrong`, { redirect: 'manual' }],
  ] as const) {
    const res = await fetch(url, init as RequestInit);
    assert.equal(res.status, 401, url);
    assert.doesNotMatch(await res.text(), /shop-v2-1/, 'nothing of the deployment without the token');
  }
  const post = await fetch(`${base}/data`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(post.status, 405);
  // ?token= sets a cookie and sends the browser to the same address without the token.
  const login = await fetch(`${base}?token=${TOKEN}&deployment=shop-v2-1`, { redirect: 'manual' });
  assert.equal(login.status, 303);
  assert.equal(login.headers.get('location'), '/ui?deployment=shop-v2-1');
  const cookie = login.headers.get('set-cookie') ?? '';
  assert.match(cookie, /^umbra_ui=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/ui$/);
  assert.ok(!cookie.includes(TOKEN), 'the cookie does not hold the token');
  const data = await fetch(`${base}/data?deployment=shop-v2-1`, {
    headers: { cookie: cookie.split(';')[0]! },
  });
  assert.equal(data.status, 200);
  const body = (await data.json()) as { report: { deployment: { id: string } } };
  assert.equal(body.report.deployment.id, 'shop-v2-1');
  const noService = await fetch(`${base}/data?service=nope`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.match(
    ((await noService.json()) as { message: string }).message,
    /^no deployment of service 'nope' yet/,
  );
  const unknown = await fetch(`${base}/data?deployment=nope`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { message: string }).message, /no deployment 'nope'/);
});

test('the live page draws every view and redraws as the score moves', { timeout: 180_000 }, async (t) => {
  const store = tempStore(t);
  const done = seedRegression(store, T0);
  // In progress now, so the judge's live score lands just after its stored decisions.
  const running = seedRegression(store, Date.now() - 30_000, 'shop-v2-2', 3);
  let live: LiveScore = { score: 0.7, threshold: 2, predictedSecondsToThreshold: 12 };
  const ui = await serve(t, store, () => live, { chaos: () => [chaosRegression(T0 - 60_000)] });
  const ctx = await startBrowser(t);
  const { page, errors, requests } = await openPage(ctx);
  const origin = new URL(ui.url).origin;

  // A finished deployment: every view, the culprit, the crossing at the rollback.
  await page.goto(`${ui.url}?token=${TOKEN}&deployment=${done.id}`);
  assert.equal(page.url(), `${ui.url}?deployment=${done.id}`, 'the token left the address');
  await renderedAfter(page, 0);
  let charts = await drawnCharts(page);
  assertCrossesAtRollback(assertDrawn('score', charts['score']));
  for (const name of ['latency0', 'latency1', 'rates']) assertDrawn(name, charts[name]);
  assert.match((await page.locator('#culprits').textContent()) ?? '', /\/cart eu errors/);
  // The chaos experiment the daemon's chaos runner holds: its faults, verdict, culprit and arms.
  assert.match(
    (await page.locator('#chaos-verdict-0').textContent()) ?? '',
    /^resilience regression at \/cart\/errors: v2 fails 11\.9 %/,
  );
  assert.match((await page.locator('#chaos-0 h3').textContent()) ?? '', /inventory:abort=503@30%/);
  assert.match(
    (await page.locator('#chaos-arms-0').textContent()) ?? '',
    /candidatev2900.*reference \(baseline\)v1900/,
  );

  // The deployment in progress (the latest): the judge's score now is on the line, and it moves.
  await page.goto(ui.url);
  await renderedAfter(page, 0);
  charts = await drawnCharts(page);
  const first = assertDrawn('score', charts['score'])['score (candidate)']!;
  assert.equal(first[first.length - 1], 0.7);
  assert.match((await page.locator('#prediction').textContent()) ?? '', /12 s/);
  assert.equal(running.rollbackAt, 0);
  const shown = Number(await page.locator('body').getAttribute('data-rendered'));
  live = { score: 1.6, threshold: 2, predictedSecondsToThreshold: 3 };
  await renderedAfter(page, shown);
  await page.waitForFunction(
    () => {
      const u = (window as unknown as { umbraCharts: Record<string, { data: (number | null)[][] }> })
        .umbraCharts;
      const line = u['score']?.data[1] ?? [];
      return line[line.length - 1] === 1.6;
    },
    undefined,
    { timeout: 15_000, polling: 100 },
  );
  assert.match((await page.locator('#prediction').textContent()) ?? '', /3 s/);
  await page.screenshot({ path: screenshotPath('live.png') });
  assert.deepEqual(errors, []);
  assert.deepEqual(
    requests.filter((u) => !u.startsWith(origin)),
    [],
    'the page talks only to the daemon',
  );
});

test('the live page of a daemon without history says so', { timeout: 120_000 }, async (t) => {
  const store = tempStore(t);
  const ui = await serve(t, store);
  const ctx = await startBrowser(t);
  const { page, errors } = await openPage(ctx);
  await page.goto(`${ui.url}?token=${TOKEN}`);
  await page.waitForSelector('#message', { timeout: 15_000 });
  assert.match((await page.locator('#message').textContent()) ?? '', /no deployment yet/);
  assert.deepEqual(await drawnCharts(page), {});
  // A deployment that starts later appears without a reload.
  seedRegression(store, T0, 'shop-v2-9', 4);
  await renderedAfter(page, 0);
  await page.waitForSelector('#chart-score', { timeout: 15_000 });
  assert.deepEqual(errors, []);
});
