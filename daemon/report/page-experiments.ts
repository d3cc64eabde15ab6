/**
 * The report page's experiments section, as script text inlined into the
 * page script (page-script.ts) and sharing its helpers (`el`, `iso`,
 * `plot`, `utc`, `fixed`, `pct`): per A/B test its arms and users, the
 * decision and why, and the effect with its interval over time (chart
 * `ab<i>`); per chaos experiment its faults, each arm's figures under them,
 * the verdict and the culprit. Plain ES2017, no template strings.
 */

export const EXPERIMENTS_STYLE = `
.experiment { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 8px 12px; margin: 8px 0 16px; }
.decision { font-weight: 600; }
.decision.b_better, .decision.a_better { color: #2e7d32; }
.decision.harmful, .regression { color: #c62828; }
`;

export const EXPERIMENTS_SCRIPT = `
  function rowsTable(id, head, rows) {
    var t = el('table', id ? { id: id } : {}, [el('tr', {}, head.map(function (h) { return el('th', { text: h }); }))]);
    rows.forEach(function (row) { t.appendChild(el('tr', {}, row.map(function (x) { return el('td', { text: String(x) }); }))); });
    return t;
  }

  function abTest(x, i) {
    var box = el('div', { class: 'experiment', id: 'ab-' + i, 'data-experiment': x.id }, [
      el('h3', { text: 'A/B test ' + x.id + ': ' + x.stable + ' (A) against ' + x.version + ' (B), ' + x.split + ' % of users on B, outcome ' + x.outcome }),
      el('div', { class: 'sub', text: 'phase ' + x.phase + ' · started ' + iso(x.startedAt) + (x.stoppedAt !== null ? ' · stopped ' + iso(x.stoppedAt) + (x.stopReason ? ' (' + x.stopReason + ')' : '') : '') +
        (x.decidedAt !== null ? ' · first decided ' + iso(x.decidedAt) : '') }),
      el('p', { class: 'decision ' + (x.harmful ? 'harmful' : x.decision), id: 'ab-decision-' + i, text: x.decision + (x.winner ? ' (winner ' + x.winner + ')' : '') + ': ' + x.why })
    ]);
    var means = x.means || { A: null, B: null };
    box.appendChild(rowsTable('ab-arms-' + i, ['arm', 'version', 'users counted', 'mean outcome per user'], [
      ['A', x.stable, x.users.A, fixed(means.A, 4)],
      ['B', x.version, x.users.B, fixed(means.B, 4)]
    ]));
    var dropped = Object.keys(x.dropped).map(function (k) { return k + ' ' + x.dropped[k]; }).join(', ');
    box.appendChild(el('p', { class: 'sub', text: 'effect B − A ' + fixed(x.effect, 4) + (x.ci ? ' in [' + fixed(x.ci[0], 4) + ', ' + fixed(x.ci[1], 4) + ']' : '') +
      ' at α = ' + x.alpha + (x.minEffect > 0 ? ', smallest effect that matters ' + x.minEffect : '') + ' · guard score ' + fixed(x.guardScore, 2) + (dropped ? ' · users left out: ' + dropped : '') }));
    var s = x.series;
    if (s.at.length) {
      var chart = el('div', { class: 'chart', id: 'chart-ab-' + i });
      box.appendChild(chart);
      plot('ab' + i, chart, { height: 220, tzDate: utc, scales: { x: { time: true } },
        series: [{}, { label: 'effect B − A', stroke: '#1e88e5', width: 2, points: { show: true, size: 5 } },
          { label: 'interval low', stroke: '#90caf9', width: 1, dash: [5, 4] },
          { label: 'interval high', stroke: '#90caf9', width: 1, dash: [5, 4] },
          { label: 'zero', stroke: '#000', width: 1, points: { show: false } }],
        axes: [{}, { label: 'B − A (outcome units)' }] },
        [s.at.map(function (t) { return t / 1000; }), s.effect, s.lo, s.hi, s.at.map(function () { return 0; })]);
    } else {
      box.appendChild(el('p', { class: 'sub', text: 'No answer saved yet: no interval to draw.' }));
    }
    return box;
  }

  function chaosRun(x, i) {
    var v = x.verdict;
    var box = el('div', { class: 'experiment', id: 'chaos-' + i }, [
      el('h3', { text: 'Chaos on the shadow leg: ' + x.version + (x.baseline ? ' against baseline ' + x.baseline : ' against production') + ' under ' + x.faults.join(', ') }),
      el('div', { class: 'sub', text: 'phase ' + x.phase + ' · started ' + iso(x.startedAt) + (x.endedAt !== null ? ' · ended ' + iso(x.endedAt) : '') + (x.reason ? ' · ' + x.reason : '') })
    ]);
    if (!v) { box.appendChild(el('p', { class: 'sub', text: 'No verdict yet.' })); return box; }
    box.appendChild(el('p', { class: 'decision' + (v.regression ? ' regression' : ''), id: 'chaos-verdict-' + i,
      text: (v.regression ? 'resilience regression' : 'no resilience regression') + (v.culprit ? ' at ' + v.culprit : '') + ': ' + v.explanation }));
    box.appendChild(rowsTable('chaos-arms-' + i, ['role', 'version', 'pairs', 'failure rate', 'latency growth'], v.arms.map(function (a) {
      return [a.role === 'reference' ? 'reference (' + v.reference + ')' : a.role, a.version, a.pairs, pct(a.failureRate), fixed(a.latencyGrowth, 2) + '×'];
    })));
    box.appendChild(el('p', { class: 'sub', text: 'error evidence 10^' + fixed(v.errorScore, 1) }));
    return box;
  }

  function experiments(r) {
    var x = r.experiments || { ab: [], chaos: [] };
    var sec = el('section', { id: 'experiments' }, [el('h2', { text: 'Experiments on ' + r.deployment.service })]);
    if (!x.ab.length && !x.chaos.length) sec.appendChild(el('p', { class: 'sub', text: 'No A/B test or chaos experiment held for this service.' }));
    x.ab.forEach(function (a, i) { sec.appendChild(abTest(a, i)); });
    x.chaos.forEach(function (c, i) { sec.appendChild(chaosRun(c, i)); });
    return sec;
  }
`;
