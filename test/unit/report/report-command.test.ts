import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { reportCommand } from '../../../daemon/cli/commands/report.js';
import { buildReport } from '../../../daemon/report/build.js';
import type { DeploymentReport } from '../../../daemon/report/model.js';
import { renderReportPage } from '../../../daemon/report/page.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { runCaptured } from '../cli/capture.js';
import { seedRegression, seedWithoutTraffic } from './fixture.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-report-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The report JSON embedded in a page. */
function embedded(html: string): DeploymentReport | null {
  const m = /<script type="application\/json" id="umbra-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the page embeds its data');
  return JSON.parse(m[1]!) as DeploymentReport | null;
}

describe('umbra report', () => {
  it('writes one self-contained page that fetches nothing', async (t) => {
    const dir = tempDir(t);
    const db = join(dir, 'umbra.db');
    const store = openStore(db);
    const { id } = seedRegression(store, T0);
    store.close();
    const out = join(dir, 'out', 'r.html');
    const r = await runCaptured(['report', id, '--store', db, '-o', out], [reportCommand]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), out);
    const html = readFileSync(out, 'utf8');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'/);
    assert.doesNotMatch(html, /connect-src/, 'a report file may not connect anywhere');
    assert.doesNotMatch(
      html,
      /<(script|link|img)[^>]+(src|href)=/i,
      'nothing is loaded from outside the file',
    );
    assert.match(html, /uPlot/, 'the chart library is inlined');
    assert.equal(embedded(html)?.deployment.id, id);
  });

  it('refuses bad input with one clear line and writes nothing', async (t) => {
    const dir = tempDir(t);
    const db = join(dir, 'umbra.db');
    const out = join(dir, 'r.html');
    // A daemon that never ran here: no store, and none is created.
    let r = await runCaptured(['report', 'shop-v2-1', '--store', db, '-o', out], [reportCommand]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no store at .*umbra\.db \(a daemon without history\)/);
    assert.equal(existsSync(db), false);
    // A store without deployments.
    openStore(db).close();
    r = await runCaptured(['report', 'shop-v2-1', '--store', db, '-o', out], [reportCommand]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /holds no deployments yet/);
    // An unknown deployment, and one without traffic.
    const store = openStore(db);
    seedRegression(store, T0);
    const quiet = seedWithoutTraffic(store, T0 + 3_600_000);
    store.close();
    r = await runCaptured(['report', 'nope', '--store', db, '-o', out], [reportCommand]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no deployment 'nope' in the store; recent ones: /);
    r = await runCaptured(['report', quiet, '--store', db, '-o', out], [reportCommand]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /has no stored traffic/);
    assert.equal(existsSync(out), false, 'no page is written for bad input');
    // Usage errors.
    r = await runCaptured(['report', '--store', db], [reportCommand]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /expected one DEPLOYMENT/);
    r = await runCaptured(['report', 'x', '--store', db, '-c', 'umbra.yaml'], [reportCommand]);
    assert.equal(r.code, 2);
  });

  it('keeps markup in the data from ending the page early', () => {
    const store = openStore(':memory:');
    const { id } = seedRegression(store, T0, 'shop-</script><img src=x>');
    const built = buildReport(store, id, T0);
    store.close();
    assert.ok(built.ok);
    if (!built.ok) return;
    const html = renderReportPage(built.report);
    assert.doesNotMatch(html, /<img src=x>/);
    assert.equal(embedded(html)?.deployment.id, id);
    assert.doesNotMatch(renderReportPage(null, { message: '<b>not markup</b>' }), /<b>not markup/);
  });
});
