/**
 * A real headless Chromium (Debian's, see scripts/chromium.ts) for the
 * report's tests, driven by playwright-core, which never downloads a
 * browser. Each page records its console errors, page errors and every
 * request, and can say what its charts hold: series, points, and painted
 * pixels of each canvas.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { chromiumMissing, chromiumPath } from '../../../scripts/chromium.js';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts the browser with a fresh profile; closed after the test. Fails (never skips) without chromium. */
export async function startBrowser(t: TestContext): Promise<BrowserContext> {
  const path = chromiumPath();
  if (!existsSync(path)) throw new Error(chromiumMissing(path));
  const profile = mkdtempSync(join(tmpdir(), 'umbra-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: path,
    headless: true,
    args: FLAGS,
    viewport: { width: 1200, height: 900 },
    timeout: 60_000,
  });
  t.after(async () => {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return ctx;
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions, in order. */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
}

export async function openPage(ctx: BrowserContext): Promise<WatchedPage> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  return { page, errors, requests };
}

/** What one uPlot chart holds and shows. */
export interface DrawnChart {
  /** Series labels, the x series first. */
  labels: string[];
  /** Per series: its data, nulls kept. */
  data: (number | null)[][];
  /** Canvas pixels that are not transparent. */
  painted: number;
}

/** Reads every chart the page keeps on `window.umbraCharts`. */
export function drawnCharts(page: Page): Promise<Record<string, DrawnChart>> {
  return page.evaluate(() => {
    type U = {
      series: { label?: string }[];
      data: (number | null)[][];
      ctx: CanvasRenderingContext2D;
      root: HTMLElement;
    };
    const charts = (window as unknown as { umbraCharts: Record<string, U> }).umbraCharts;
    const out: Record<string, { labels: string[]; data: (number | null)[][]; painted: number }> = {};
    for (const [name, u] of Object.entries(charts)) {
      const canvas = u.root.querySelector('canvas')!;
      const px = u.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) painted++;
      out[name] = {
        labels: u.series.map((s) => String(s.label ?? '')),
        data: u.data.map((d) => Array.from(d)),
        painted,
      };
    }
    return out;
  });
}

/** Where screenshots go: $UMBRA_SCREENSHOTS (e.g. `docs`) to refresh the docs' images, else a temp dir. */
export function screenshotPath(name: string): string {
  const dir = process.env['UMBRA_SCREENSHOTS'] ?? join(tmpdir(), 'umbra-screenshots');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** Waits (bounded) until the page has drawn a report newer than `after` (its generatedAt), or a message. */
export async function renderedAfter(page: Page, after: number, timeoutMs = 15_000): Promise<void> {
  await page.waitForFunction(
    (t) => {
      const v = document.body.getAttribute('data-rendered');
      return v !== null && (v === 'message' || Number(v) > t);
    },
    after,
    { timeout: timeoutMs, polling: 100 },
  );
}

/** Asserts the chart draws every series with points; returns its series by label. */
export function assertDrawn(name: string, c: DrawnChart | undefined): Record<string, (number | null)[]> {
  assert.ok(c, `chart ${name} is drawn`);
  assert.ok(c.labels.length >= 2, `${name} has series`);
  const byLabel: Record<string, (number | null)[]> = {};
  c.labels.forEach((label, i) => {
    const points = c.data[i]!.filter((v) => v !== null && Number.isFinite(v)).length;
    assert.ok(points > 0, `${name}: series '${label}' has no points`);
    byLabel[label] = c.data[i]!;
  });
  assert.ok(c.painted > 2000, `${name}: canvas nearly blank (${c.painted} pixels)`);
  return byLabel;
}

/** The score line reaches the threshold exactly at the rollback point, from below. */
export function assertCrossesAtRollback(score: Record<string, (number | null)[]>): void {
  const cand = score['score (candidate)']!;
  const thr = score['threshold']!;
  const rb = score['rollback']!;
  const i = rb.findIndex((v) => v !== null);
  assert.ok(i > 0, 'the rollback point is drawn');
  assert.ok(cand[i]! >= thr[i]!, `score ${cand[i]} at the rollback is below the threshold ${thr[i]}`);
  const before = cand.slice(0, i).filter((v): v is number => v !== null);
  assert.ok(
    before.length > 0 && before[before.length - 1]! < thr[i]!,
    'the score was below the threshold before',
  );
}
