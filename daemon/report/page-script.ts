/**
 * The report page's own script and style, as text inlined into the page
 * (page.ts). The script reads the embedded report (or, live, fetches it
 * every few seconds), lays out the sections and hands every chart to uPlot;
 * the heat map and the phase timeline are HTML coloured by value. Each
 * uPlot instance is kept on `window.umbraCharts` by name, so a test can read
 * what was drawn. Plain ES2017, no template strings (this file is one).
 * The experiments section lives in page-experiments.ts, spliced in.
 */
import { EXPERIMENTS_SCRIPT, EXPERIMENTS_STYLE } from './page-experiments.js';

export const PAGE_STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #fafafa; color: #222; }
main { max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 20px; margin: 8px 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 4px; }
.sub { color: #555; }
.message { padding: 16px; background: #fff3cd; border: 1px solid #e0c36a; border-radius: 4px; }
.verdict { padding: 12px 16px; border-radius: 4px; background: #fff; border-left: 6px solid #888; }
.verdict.rollback { border-color: #c62828; }
.verdict.healthy { border-color: #2e7d32; }
.verdict .big { font-size: 18px; font-weight: 600; }
.culprit { display: inline-block; background: #c62828; color: #fff; border-radius: 3px; padding: 0 6px; margin: 2px 4px 2px 0; font-family: monospace; }
table { border-collapse: collapse; background: #fff; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
.timeline { display: flex; height: 28px; border-radius: 4px; overflow: hidden; background: #eee; }
.timeline div { color: #fff; font-size: 12px; line-height: 28px; padding: 0 4px; overflow: hidden; white-space: nowrap; min-width: 2px; }
.heat { display: grid; gap: 0; background: #fff; }
.heat .label { font-family: monospace; font-size: 12px; padding-right: 8px; white-space: nowrap; }
.heat .label.isculprit { color: #c62828; font-weight: 700; }
.heat .cell { height: 20px; }
.legend-scale { display: inline-block; width: 160px; height: 10px; background: linear-gradient(90deg, #f3f3f3, #ffcdd2, #c62828); vertical-align: middle; }
.chart { background: #fff; margin: 4px 0 12px; }
.live { position: fixed; top: 8px; right: 12px; font-size: 12px; color: #2e7d32; }
${EXPERIMENTS_STYLE}`;

export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var charts = {};
  window.umbraCharts = charts;
  var PHASE_COLORS = { provisioning: '#78909c', shadowing: '#5c6bc0', promoting: '#26a69a', baking: '#66bb6a',
    completed: '#2e7d32', rolling_back: '#c62828', validating: '#ef6c00', rolled_back: '#8d6e63',
    rollback_failed: '#b71c1c', aborted: '#616161' };
  var ARM_COLORS = { primary: '#1e88e5', candidate: '#e53935', baseline: '#8e24aa', live: '#43a047' };

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'style') e.style.cssText = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function iso(ms) { return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'); }
  function clock(ms) { return new Date(ms).toISOString().slice(11, 19); }
  function pct(v, digits) { return v === null || v === undefined ? '-' : (100 * v).toFixed(digits === undefined ? 2 : digits) + ' %'; }
  function fixed(v, d) { return typeof v === 'number' ? v.toFixed(d) : '-'; }
  function width(container) { return Math.max(320, Math.min(1050, container.clientWidth || 1000)); }
  var utc = function (ts) { return uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'); };

  /** Draws (or updates in place) the uPlot chart called name. */
  function plot(name, box, opts, data) {
    var old = charts[name];
    var key = opts.series.map(function (s) { return s.label || ''; }).join('|');
    if (old && old.umbraKey === key && box.contains(old.root)) { old.setData(data); return old; }
    if (old) old.destroy();
    opts.width = width(box);
    var u = new uPlot(opts, data, box);
    u.umbraKey = key;
    charts[name] = u;
    return u;
  }

  function header(r) {
    var d = r.deployment;
    return el('section', { id: 'summary' }, [
      el('h1', { text: d.service + ' ' + d.version + ' (replacing ' + (d.previousVersion || 'nothing') + ')' }),
      el('div', { class: 'sub', text: 'deployment ' + d.id + ' · phase ' + d.phase + (d.final ? ' (final)' : '') +
        ' · candidate weight ' + d.candidateWeight + ' % · started ' + iso(d.createdAt) + ' · report of ' + iso(r.generatedAt) })
    ]);
  }

  function verdictBox(r) {
    var v = r.verdict;
    var box = el('section', { id: 'verdict' }, [el('h2', { text: 'Verdict' })]);
    if (!v) { box.appendChild(el('p', { class: 'message', text: 'No judge decision stored yet.' })); return box; }
    var card = el('div', { class: 'verdict ' + v.verdict }, [
      el('div', { class: 'big', text: v.verdict + ' (' + (v.subject === 'restored' ? 'the restored version' : 'the candidate') +
        '): score ' + fixed(v.score, 2) + ' against threshold ' + v.threshold }),
      el('div', { text: 'decision #' + v.decisionId + ' at ' + iso(v.at) + (v.pairs !== null ? ' over ' + v.pairs + ' pairs' : '') +
        (v.modelVersion !== null ? ' · model v' + v.modelVersion : '') }),
      v.reason ? el('div', { text: v.reason }) : null
    ]);
    if (v.culprits.length) {
      var c = el('div', { id: 'culprits' }, ['culprits: ']);
      v.culprits.forEach(function (x) { c.appendChild(el('span', { class: 'culprit', text: x })); });
      card.appendChild(c);
    }
    if (v.examples.length) card.appendChild(el('div', {}, ['example request ids: ', el('code', { id: 'examples', text: v.examples.join(' ') })]));
    v.model.forEach(function (m) { card.appendChild(el('div', { class: 'sub', text: 'model: ' + m })); });
    box.appendChild(card);
    if (v.signals.length) {
      var t = el('table', { id: 'signals' }, [el('tr', {}, ['signal', 'endpoint', 'segment', 'score (log10 e)', 'effect', 'weight', 'counts'].map(function (h) { return el('th', { text: h }); }))]);
      v.signals.forEach(function (s) {
        var counts = Object.keys(s.counts).map(function (k) { return k + ' ' + (Math.round(s.counts[k] * 1e4) / 1e4); }).join(', ');
        t.appendChild(el('tr', {}, [s.name, s.endpoint, s.segment, fixed(s.score, 2), fixed(s.effectSize, 4), fixed(s.weight, 4), counts]
          .map(function (x, i) { return el('td', { class: i === 6 ? 'mono' : '', text: String(x) }); })));
      });
      box.appendChild(el('h3', { text: 'Signals where the evidence is' }));
      box.appendChild(t);
    }
    return box;
  }

  function timeline(r) {
    var sec = el('section', { id: 'timeline' }, [el('h2', { text: 'Phases' })]);
    var end = r.deployment.final ? r.deployment.updatedAt : r.generatedAt;
    var start = r.phases.length ? r.phases[0].from : r.deployment.createdAt;
    var span = Math.max(1, end - start);
    var bar = el('div', { class: 'timeline' });
    var t = el('table', {}, [el('tr', {}, ['phase', 'from', 'for', 'event', 'reason'].map(function (h) { return el('th', { text: h }); }))]);
    r.phases.forEach(function (p) {
      var to = p.to === null ? end : p.to;
      var share = Math.max(0, to - p.from) / span;
      bar.appendChild(el('div', { 'data-phase': p.phase, title: p.phase, style: 'flex: ' + Math.max(share, 0.01) + ' 0 0; background: ' + (PHASE_COLORS[p.phase] || '#999'), text: p.phase }));
      t.appendChild(el('tr', {}, [p.phase, iso(p.from), ((to - p.from) / 1000).toFixed(1) + ' s', p.event, p.reason].map(function (x) { return el('td', { text: x }); })));
    });
    sec.appendChild(bar);
    sec.appendChild(el('div', { style: 'height: 8px' }));
    sec.appendChild(t);
    if (r.shares && r.shares.length) {
      sec.appendChild(el('h2', { text: 'Share mirrored (adaptive)' }));
      var st = el('table', { id: 'shares' }, [el('tr', {}, ['at', 'share', 'reason'].map(function (h) { return el('th', { text: h }); }))]);
      r.shares.forEach(function (s) {
        st.appendChild(el('tr', {}, [iso(s.at), s.percentage + ' %', s.reason].map(function (x) { return el('td', { text: x }); })));
      });
      sec.appendChild(st);
    }
    return sec;
  }

  function scoreChart(r, sec) {
    var s = r.score;
    var pred = s.predictedSecondsToThreshold;
    sec.appendChild(el('p', { id: 'prediction', text: s.rollbackAt !== null ? 'The score reached the threshold at ' + iso(s.rollbackAt) + ': rollback.' :
      pred === null ? 'Predicted time to threshold: none (the score is not growing).' : 'Predicted time to threshold: ' + Math.round(pred) + ' s at the current pace.' }));
    if (!s.at.length) { sec.appendChild(el('p', { class: 'message', text: 'No judge decision stored yet: no score to draw.' })); return; }
    var x = s.at.map(function (t) { return t / 1000; });
    var has = function (line) { return line.some(function (v) { return v !== null; }); };
    // Only lines with points: a deployment in progress has no validation and no rollback yet.
    var series = [{}], data = [x];
    var add = function (line, opts) { if (has(line)) { series.push(opts); data.push(line); } };
    add(s.candidate, { label: 'score (candidate)', stroke: '#e53935', width: 2, points: { show: true, size: 6 }, spanGaps: true });
    add(s.restored, { label: 'score (restored, validation)', stroke: '#ef6c00', width: 2, points: { show: true, size: 6 }, spanGaps: true });
    add(s.at.map(function () { return s.threshold; }), { label: 'threshold', stroke: '#000', dash: [6, 4], width: 1, points: { show: false } });
    add(s.at.map(function (t, i) { return i === s.rollbackIndex ? s.candidate[i] : null; }),
      { label: 'rollback', stroke: '#b71c1c', width: 0, points: { show: true, size: 12, fill: '#b71c1c' } });
    var box = el('div', { class: 'chart', id: 'chart-score' });
    sec.appendChild(box);
    plot('score', box, { height: 260, tzDate: utc, scales: { x: { time: true } }, series: series, axes: [{}, { label: 'log10 e-value' }] }, data);
  }

  function heatColor(v, max) {
    if (v === null) return '#fff';
    var t = Math.max(0, Math.min(1, v / max));
    if (v <= 0) return '#f3f3f3';
    var r = Math.round(255 - t * (255 - 198)), g = Math.round(205 - t * (205 - 40)), b = Math.round(210 - t * (210 - 40));
    return 'rgb(' + r + ',' + g + ',' + b + ')';
  }

  function heatmap(r, sec) {
    var h = r.heatmap;
    var max = 0.01;
    h.rows.forEach(function (row) { row.values.forEach(function (v) { if (v !== null && v > max) max = v; }); });
    sec.appendChild(el('p', { class: 'sub', id: 'heat-signal' }, [h.signal + ' per ' + h.bucketSeconds + ' s, per endpoint × segment: ' + h.label + '. 0 ',
      el('span', { class: 'legend-scale' }), ' ' + pct(max, 0) + '. Empty: no pairs.']));
    var n = h.at.length;
    var grid = el('div', { class: 'heat', id: 'heatmap', style: 'grid-template-columns: max-content repeat(' + n + ', minmax(1px, 1fr));' });
    h.rows.forEach(function (row) {
      grid.appendChild(el('div', { class: 'label' + (row.culprit ? ' isculprit' : ''), 'data-row': row.endpoint + ' ' + row.segment,
        text: (row.culprit ? '▶ ' : '') + row.endpoint + ' ' + row.segment }));
      row.values.forEach(function (v, i) {
        grid.appendChild(el('div', { class: 'cell', title: row.endpoint + ' ' + row.segment + ' ' + clock(h.at[i]) + ': ' + pct(v), style: 'background:' + heatColor(v, max) }));
      });
    });
    sec.appendChild(grid);
    var t = el('table', { id: 'cells' }, [el('tr', {}, ['endpoint', 'segment', 'pairs', 'excess failures', 'status mismatches', 'net slower share', ''].map(function (x) { return el('th', { text: x }); }))]);
    h.rows.forEach(function (row) {
      t.appendChild(el('tr', {}, [row.endpoint, row.segment, String(row.pairs), pct(row.excessErrors), String(row.statusMismatches), pct(row.slowerShare, 1), row.culprit ? 'culprit' : '']
        .map(function (x) { return el('td', { text: x }); })));
    });
    sec.appendChild(el('div', { style: 'height: 8px' }));
    sec.appendChild(t);
  }

  var NINES_MAX = 5;
  function nines(p) { return p >= 100 ? NINES_MAX : Math.min(NINES_MAX, -Math.log10(1 - p / 100)); }
  function pctLabel(x) { var p = 100 * (1 - Math.pow(10, -x)); return x >= NINES_MAX ? 'max' : x <= 0 ? 'min' : 'p' + (Math.round(p * 1000) / 1000); }

  function latency(r, sec) {
    if (!r.latency.length) { sec.appendChild(el('p', { class: 'sub', text: 'No latency histograms stored for this deployment (they are written when a minute ends).' })); return; }
    r.latency.forEach(function (g, gi) {
      sec.appendChild(el('h3', { text: g.title }));
      if (!g.arms.length) { sec.appendChild(el('p', { class: 'sub', text: 'no histograms for this endpoint' })); return; }
      var x = g.arms[0].percentiles.map(nines);
      var box = el('div', { class: 'chart', id: 'chart-latency-' + gi });
      sec.appendChild(box);
      plot('latency' + gi, box, {
        height: 240, scales: { x: { time: false } },
        series: [{ label: 'percentile', value: function (u, v) { return v === null ? '-' : pctLabel(v); } }].concat(g.arms.map(function (a) {
          return { label: a.arm + ' (' + a.count + ')', stroke: ARM_COLORS[a.arm] || '#555', width: 2, value: function (u, v) { return v === null ? '-' : v.toFixed(2) + ' ms'; } };
        })),
        axes: [{ label: 'percentile', splits: function () { return [0, Math.log10(2), 1, 2, 3, 4, NINES_MAX]; }, values: function (u, vals) { return vals.map(pctLabel); } }, { label: 'ms' }]
      }, [x].concat(g.arms.map(function (a) { return a.ms; })));
    });
  }

  function rates(r, sec) {
    var s = r.rates;
    var x = s.at.map(function (t) { return t / 1000; });
    var series = [{}, { label: 'production failures', stroke: ARM_COLORS.primary, width: 2 },
      { label: 'candidate failures', stroke: ARM_COLORS.candidate, width: 2 },
      { label: 'status mismatches', stroke: '#fb8c00', width: 2, dash: [5, 4] }];
    var data = [x, s.primaryErrors, s.candidateErrors, s.statusMismatch];
    if (s.baselineErrors) { series.push({ label: 'baseline failures', stroke: ARM_COLORS.baseline, width: 2 }); data.push(s.baselineErrors); }
    series.forEach(function (ser, i) { if (i > 0) ser.value = function (u, v) { return pct(v); }; });
    var box = el('div', { class: 'chart', id: 'chart-rates' });
    sec.appendChild(box);
    // A share never goes below 0; with no failures at all, show 0..1 % rather than an empty 0..100 % scale.
    var yRange = function (u, min, max) { return [0, Math.max(0.01, (max || 0) * 1.1)]; };
    plot('rates', box, { height: 240, tzDate: utc, scales: { x: { time: true }, y: { range: yRange } }, series: series,
      axes: [{}, { label: 'share of pairs', values: function (u, vals) { return vals.map(function (v) { return (100 * v).toFixed(1) + '%'; }); } }] }, data);
  }

  function config(r) {
    var sec = el('section', { id: 'config' }, [el('h2', { text: 'Configuration in force' })]);
    var rows = [['anomalyThreshold', r.config.anomalyThreshold === null ? '-' : String(r.config.anomalyThreshold)],
      ['judge model', r.config.modelVersion === null ? '-' : (r.config.modelVersion === 0 ? 'built-in (v0)' : 'v' + r.config.modelVersion)]];
    var plan = r.config.plan || {};
    Object.keys(plan).forEach(function (k) { rows.push([k, JSON.stringify(plan[k])]); });
    var t = el('table', {});
    rows.forEach(function (row) { t.appendChild(el('tr', {}, [el('th', { text: row[0] }), el('td', { class: 'mono', text: row[1] })])); });
    sec.appendChild(t);
    return sec;
  }

`.concat(
  EXPERIMENTS_SCRIPT,
  `
  function render(r) {
    var main = document.getElementById('report');
    main.textContent = '';
    main.appendChild(header(r));
    main.appendChild(verdictBox(r));
    main.appendChild(timeline(r));
    var score = el('section', { id: 'score' }, [el('h2', { text: 'Anomaly score against the threshold' })]);
    main.appendChild(score); scoreChart(r, score);
    var heat = el('section', { id: 'evidence' }, [el('h2', { text: 'Evidence per endpoint × segment' })]);
    main.appendChild(heat); heatmap(r, heat);
    var lat = el('section', { id: 'latency' }, [el('h2', { text: 'Latency distributions per arm' })]);
    main.appendChild(lat); latency(r, lat);
    var rt = el('section', { id: 'rates' }, [el('h2', { text: 'Failure and status-mismatch rates per arm' })]);
    main.appendChild(rt); rates(r, rt);
    main.appendChild(experiments(r));
    main.appendChild(config(r));
    if (r.notes.length) {
      var notes = el('section', { id: 'notes' }, [el('h2', { text: 'Not shown' })]);
      r.notes.forEach(function (n) { notes.appendChild(el('p', { class: 'sub', text: n })); });
      main.appendChild(notes);
    }
    document.title = 'Umbra: ' + r.deployment.service + ' ' + r.deployment.version + ' (' + r.deployment.phase + ')';
    document.body.setAttribute('data-rendered', String(r.generatedAt));
  }

  function showMessage(text) {
    var main = document.getElementById('report');
    main.textContent = '';
    for (var k in charts) { charts[k].destroy(); delete charts[k]; }
    main.appendChild(el('p', { class: 'message', id: 'message', text: text }));
    document.body.setAttribute('data-rendered', 'message');
  }

  var initial = JSON.parse(document.getElementById('umbra-data').textContent);
  if (initial) render(initial);
  var live = document.body.getAttribute('data-live');
  if (live) {
    var every = Number(document.body.getAttribute('data-interval')) || 2000;
    var badge = el('div', { class: 'live', id: 'live', text: 'live' });
    document.body.appendChild(badge);
    var tick = function () {
      fetch(live, { credentials: 'same-origin', cache: 'no-store' }).then(function (res) {
        return res.json().then(function (body) { return { status: res.status, body: body }; });
      }).then(function (r) {
        if (r.status === 200 && r.body.report) render(r.body.report);
        else showMessage(r.body.message || ('the daemon answered ' + r.status));
        badge.textContent = 'live · updated ' + clock(Date.now());
      }, function (err) {
        badge.textContent = 'live · daemon unreachable (' + err.message + ')';
      }).then(function () { setTimeout(tick, every); });
    };
    setTimeout(tick, every);
  }
})();
`,
);
