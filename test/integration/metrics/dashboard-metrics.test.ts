/**
 * The daemon as `umbra daemon` composes it serves /metrics that a
 * Prometheus exposition parser reads, with the rollout's state, and every
 * metric the Grafana dashboard (dashboards/umbra.json) queries is there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import parse, { type ParsedFamily } from 'parse-prometheus-text-format';
import { AdminClient } from '../../../daemon/admin/client.js';
import { readAdminToken } from '../../../daemon/admin/token.js';
import { setLogLevel } from '../../../daemon/log.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { DEFAULT_PARTS_OPTIONS, defaultParts, startUmbrad } from '../../../daemon/umbrad.js';
import { inProcessConfig } from '../../harness/index.js';

setLogLevel('silent');

/** The port of a HOST:PORT the daemon reports it bound. */
function portOf(address: string | undefined): number {
  assert.ok(address, 'the daemon reports where it bound');
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** Every `umbra_…` metric name in the dashboard's queries (panels and variables). */
function dashboardMetrics(): string[] {
  const text = readFileSync(join(projectRoot(), 'dashboards', 'umbra.json'), 'utf8');
  const dash = JSON.parse(text) as {
    panels: { targets: { expr: string }[] }[];
    templating: { list: { definition: string }[] };
  };
  const exprs = [
    ...dash.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ...dash.templating.list.map((v) => v.definition),
  ];
  return [...new Set(exprs.flatMap((e) => e.match(/\bumbra_[a-z0-9_]+/g) ?? []))].sort();
}

async function scrape(port: number): Promise<Map<string, ParsedFamily>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return new Map(parse(await res.text()).map((f) => [f.name, f]));
}

function value(f: ParsedFamily | undefined, labels: Record<string, string>): number | undefined {
  const m = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m === undefined ? undefined : Number(m.value);
}

test('/metrics parses, carries the rollout state, and has every metric the dashboard queries', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-metrics-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = inProcessConfig(dir, [
    {
      name: 'checkout',
      stable: 'v1',
      mirroring: { shadowPercentage: 25 },
      judge: { anomalyThreshold: 3 },
      provisioner: {
        kind: 'static',
        versions: { v1: { endpoints: ['127.0.0.1:9'] }, v2: { endpoints: ['127.0.0.1:9'] } },
      },
    },
  ]);
  const store = openStore(':memory:');
  const daemon = await startUmbrad(
    { config: config, store },
    defaultParts({
      ...DEFAULT_PARTS_OPTIONS,
      telemetryListen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      tickMs: 100,
    }),
  );
  t.after(() => daemon.stop());
  const controller = daemon.context.controller!;
  const metricsPort = portOf(daemon.context.bound['metrics']);
  const adminPort = portOf(daemon.context.bound['admin']);

  // Before any deployment: the threshold and a phase state set with nothing current.
  let m = await scrape(metricsPort);
  assert.equal(value(m.get('umbra_judge_threshold'), { service: 'checkout' }), 3);
  assert.equal(value(m.get('umbra_rollout_phase'), { service: 'checkout', phase: 'shadowing' }), 0);
  assert.equal(m.get('umbra_judge_score')?.metrics.length, 0, 'no score before the judge has spoken');

  const client = new AdminClient({
    address: `127.0.0.1:${adminPort}`,
    token: process.env['UMBRA_ADMIN_TOKEN'] ?? readAdminToken(join(dir, 'admin.token')),
  });
  t.after(() => client.close());
  const d = (await client.deploy('checkout', 'v2')).deployment;
  // A decision stored after the first scrape counts once.
  store.recordDecision({
    deploymentId: d.id,
    service: 'checkout',
    at: Date.now(),
    verdict: 'insufficient',
    score: 0,
    threshold: 3,
    modelVersion: null,
    explanation: {},
  });
  m = await scrape(metricsPort);
  const now = controller.scheduler.latest('checkout')!;
  assert.equal(value(m.get('umbra_rollout_phase'), { service: 'checkout', phase: now.phase }), 1);
  const phases = m.get('umbra_rollout_phase')!.metrics.filter((s) => s.labels?.['service'] === 'checkout');
  assert.equal(phases.filter((s) => s.value === '1').length, 1, 'exactly one current phase');
  assert.equal(
    value(m.get('umbra_rollout_info'), {
      service: 'checkout',
      deployment: d.id,
      version: 'v2',
      previous_version: 'v1',
    }),
    1,
  );
  assert.equal(value(m.get('umbra_rollout_candidate_weight_ratio'), { service: 'checkout' }), 0);
  assert.equal(
    value(m.get('umbra_rollout_mirror_ratio'), { service: 'checkout' }),
    now.phase === 'shadowing' ? 0.25 : 0,
  );
  assert.equal(
    value(m.get('umbra_judge_decisions_total'), { service: 'checkout', verdict: 'insufficient' }),
    1,
  );
  assert.equal(m.get('umbra_judge_decisions_total')?.type, 'COUNTER');
  const pools = m.get('umbra_pool_replicas_desired')?.metrics ?? [];
  assert.ok(
    pools.some((s) => s.labels?.['version'] === 'v1' && s.labels?.['pool'] === 'main'),
    JSON.stringify(pools),
  );

  for (const name of dashboardMetrics()) assert.ok(m.has(name), `the dashboard queries ${name}: not exposed`);
  for (const f of m.values()) {
    assert.match(f.name, /^umbra_[a-z0-9_]+$/, 'Prometheus naming');
    if (f.type === 'COUNTER') assert.match(f.name, /_total$/, `${f.name}: counters end in _total`);
  }
});
