/**
 * Report benchmark (`npm run bench:report`): what a deployment report costs
 * to build from the store (SQLite in a temp file) and to render, and how
 * large the file is, for deployments of 1 minute, 10 minutes and 1 hour
 * (9 endpoint × segment cells per second, histograms of 3 endpoints × 2
 * arms per minute, a decision every 10 s). The live page rebuilds at most
 * once a second and keeps the daemon's time on it under a tenth
 * (admin/ui-server.ts): the build time says where that starts to widen the
 * interval.
 *
 * The live page reads through a cache (report/cache.ts): `live_rebuild_ms`
 * is a rebuild after one more second, beside `build_ms` (a cold build, what
 * `umbra report` and every rebuild without the cache cost).
 *
 * Last line: {"bench":"report","build_ms_3600s":…,"live_rebuild_ms_3600s":…,"live_speedup_3600s":…,"bytes_3600s":…,…}
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatencyHistogram } from '../daemon/aggregate/latency-histogram.js';
import { type CellStats, emptyPaired } from '../daemon/aggregate/stats.js';
import { setLogLevel } from '../daemon/log.js';
import { buildReport } from '../daemon/report/build.js';
import { cachingReader } from '../daemon/report/cache.js';
import { renderReportPage } from '../daemon/report/page.js';
import { openStore } from '../daemon/store/sqlite.js';
import type { Store } from '../daemon/store/store.js';

setLogLevel('silent');
const ENDPOINTS = ['/cart', '/catalog', '/profile'];
const SEGMENTS = ['eu', 'us', 'ap'];
const RUNS = Number(process.env['REPORT_BENCH_RUNS'] ?? 5);

function seed(store: Store, id: string, t0: number, seconds: number): void {
  store.createDeployment({
    id,
    service: 'shop',
    version: 'v2',
    previousVersion: 'v1',
    phase: 'shadowing',
    phaseData: { plan: {}, candidateWeight: 0 },
    createdAt: t0,
    updatedAt: t0,
  });
  const first = Math.floor(t0 / 1000);
  for (let s = first; s < first + seconds; s++) {
    addSecond(store, s);
    if ((s - first) % 10 === 0) {
      store.recordDecision({
        deploymentId: id,
        service: 'shop',
        at: s * 1000,
        verdict: 'healthy',
        score: 0.1,
        threshold: 2,
        modelVersion: 0,
        explanation: {
          phase: 'shadowing',
          culprits: [],
          explanation: { pairs: 100, signals: [], examples: [] },
        },
      });
    }
  }
  const h = new LatencyHistogram();
  for (let i = 0; i < 5000; i++) h.record(2000 + ((i * 7919) % 4000));
  const encoded = h.encode();
  for (let m = Math.floor(first / 60) * 60; m < first + seconds; m += 60) {
    store.saveHistograms(
      ENDPOINTS.flatMap((endpoint) =>
        (['primary', 'candidate'] as const).map((arm) => ({
          service: 'shop',
          endpoint,
          arm,
          minute: m,
          count: h.total,
          encoded,
        })),
      ),
    );
  }
}

/** One second of cells: 9 endpoint × segment cells of 20 pairs. */
function addSecond(store: Store, s: number): void {
  const cells: CellStats[] = [];
  for (const endpoint of ENDPOINTS) {
    for (const segment of SEGMENTS) {
      const c = emptyPaired();
      c.pairs = 20;
      c.shadowFailed = s % 7 === 0 ? 1 : 0;
      c.errShadowOnly = c.shadowFailed;
      c.latPairs = 19;
      c.latShadowSlower = 3;
      c.latPrimarySlower = 3;
      cells.push({
        key: { service: 'shop', endpoint, segment, second: s },
        candidate: c,
        baseline: emptyPaired(),
        live: { 'shop-v1': { requests: 40, failed: 0, overTail: 0, latSumUs: 40 * 3000 } },
        examples: {},
      });
    }
  }
  store.saveCells(cells);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-report-'));
const store = openStore(join(dir, 'umbra.db'));
const out: Record<string, number | string> = { bench: 'report' };
try {
  let t0 = Date.UTC(2026, 0, 1);
  for (const seconds of [60, 600, 3600]) {
    const id = `shop-v2-${seconds}`;
    seed(store, id, t0, seconds);
    const now = t0 + seconds * 1000;
    const build: number[] = [];
    const render: number[] = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const a = performance.now();
      const r = buildReport(store, id, now);
      const b = performance.now();
      if (!r.ok) throw new Error(r.message);
      const html = renderReportPage(r.report);
      render.push(performance.now() - b);
      build.push(b - a);
      bytes = Buffer.byteLength(html);
    }
    // The live page: a caching reader, rebuilt after one more second of cells.
    const reader = cachingReader(store);
    buildReport(store, id, now, reader);
    const live: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      addSecond(store, Math.floor(now / 1000) + i);
      const a = performance.now();
      const r = buildReport(store, id, now + (i + 1) * 1000, reader);
      live.push(performance.now() - a);
      if (!r.ok) throw new Error(r.message);
    }
    out[`live_rebuild_ms_${seconds}s`] = Math.round(median(live) * 10) / 10;
    out[`build_ms_${seconds}s`] = Math.round(median(build) * 10) / 10;
    out[`live_speedup_${seconds}s`] = Math.round((median(build) / median(live)) * 10) / 10;
    out[`render_ms_${seconds}s`] = Math.round(median(render) * 10) / 10;
    out[`bytes_${seconds}s`] = bytes;
    console.log(
      `${seconds} s deployment: build ${out[`build_ms_${seconds}s`]} ms, render ${out[`render_ms_${seconds}s`]} ms, ${bytes} bytes`,
    );
    t0 += (seconds + 3600) * 1000;
  }
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
