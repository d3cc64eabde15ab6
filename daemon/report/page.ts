/**
 * The report page: one self-contained HTML file. uPlot (the chart library:
 * ~50 KB minified, canvas, fast with thousands of points) and its CSS are
 * inlined, the report's data is embedded as JSON, and a Content-Security-
 * Policy forbids every request: the file opens offline and nothing leaves
 * it. The live page (/ui) is the same page with `live` set: it may fetch its
 * own data URL ('self') and nothing else.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DeploymentReport } from './model.js';
import { PAGE_SCRIPT, PAGE_STYLE } from './page-script.js';

let assets: { js: string; css: string } | undefined;

/** uPlot's minified build and stylesheet, read once from node_modules. */
function uplotAssets(): { js: string; css: string } {
  if (!assets) {
    const require = createRequire(import.meta.url);
    const main = require.resolve('uplot');
    const dist = main.slice(0, main.lastIndexOf('/'));
    assets = {
      js: readFileSync(`${dist}/uPlot.iife.min.js`, 'utf8'),
      css: readFileSync(`${dist}/uPlot.min.css`, 'utf8'),
    };
  }
  return assets;
}

/** NOTE: inside <script> only `</script` ends the element (HTML spec, script data state): escape it. */
function scriptSafe(text: string): string {
  return text.replace(/<\/(script)/gi, '<\\/$1');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageOptions {
  /** Live page: the data URL to poll and the interval; absent for a report file. */
  live?: { dataUrl: string; intervalMs: number };
  /** Shown instead of charts when there is no report to draw (the live page before data exists). */
  message?: string;
}

/** The whole page. `report` may be null only with a `message`. */
export function renderReportPage(report: DeploymentReport | null, o: PageOptions = {}): string {
  const { js, css } = uplotAssets();
  const title = report
    ? `Umbra: ${report.deployment.service} ${report.deployment.version} (${report.deployment.id})`
    : 'Umbra';
  const csp = o.live
    ? "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:"
    : "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";
  const data = report === null ? 'null' : JSON.stringify(report).replace(/</g, '\\u003c');
  const live = o.live
    ? ` data-live="${escapeHtml(o.live.dataUrl)}" data-interval="${o.live.intervalMs}"`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
<style>${PAGE_STYLE}</style>
</head>
<body${live}>
<main id="report">${o.message ? `<p class="message" id="message">${escapeHtml(o.message)}</p>` : ''}</main>
<noscript><p class="message">This report draws its charts with JavaScript; allow scripts for this file.</p></noscript>
<script type="application/json" id="umbra-data">${data}</script>
<script>${scriptSafe(js)}</script>
<script>${scriptSafe(PAGE_SCRIPT)}</script>
</body>
</html>
`;
}
