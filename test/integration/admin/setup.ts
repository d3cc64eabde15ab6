/**
 * A real admin gRPC server on loopback, backed by the real rollout scheduler
 * over an in-memory SQLite store and static provisioners; routing, control
 * and alert effects are recorded (their glue is not part of this API).
 */
import type { TestContext } from 'node:test';
import { AdminClient } from '../../../daemon/admin/client.js';
import { storedDecisions } from '../../../daemon/admin/decision-view.js';
import type { DecisionView } from '../../../daemon/admin/port.js';
import { RolloutAdminBackend } from '../../../daemon/admin/rollout-backend.js';
import { type AdminServerOptions, startAdminServer } from '../../../daemon/admin/server.js';
import { parseConfig } from '../../../daemon/config/load.js';
import { ControllerEffectRunner } from '../../../daemon/controller/effects.js';
import type { ServiceEvidence } from '../../../daemon/controller/evidence.js';
import { createProvisioner } from '../../../daemon/provision/factory.js';
import type { Provisioner } from '../../../daemon/provision/provisioner.js';
import { RolloutScheduler } from '../../../daemon/rollout/scheduler.js';
import { storeDeploymentRepo } from '../../../daemon/rollout/store-repo.js';
import type { Effect } from '../../../daemon/rollout/types.js';
import { openStore } from '../../../daemon/store/sqlite.js';

export const TOKEN = 'test-token-0123456789';

const CONFIG = `
services:
  - name: checkout
    stable: v1
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:9001', '127.0.0.1:9002'] }
        v2: { endpoints: ['127.0.0.1:9101', '127.0.0.1:9102'] }
        v3: { endpoints: ['127.0.0.1:9201'] }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 20, hold: 10m }, { weight: 100, hold: 10m }]
  - name: catalog
    stable: v7
    listen: 127.0.0.1:10001
    provisioner:
      kind: static
      versions: { v7: { endpoints: ['127.0.0.1:9301'] }, v8: { endpoints: ['127.0.0.1:9401'] } }
`;

export const EVIDENCE: ServiceEvidence = {
  verdict: 'insufficient',
  reason: 'minimum sample',
  score: 1.25,
  threshold: 3,
  culprits: [],
  pairs: 180,
  evidence: [
    {
      endpoint: 'GET /pay',
      segment: 'eu-west',
      signal: 'errors',
      score: 1.1,
      effectSize: 0.031,
      weight: 0.4,
    },
  ],
  predictedSecondsToThreshold: 42,
};

/** A decision as the judging loop stores it. */
const STORED_DECISION = {
  deploymentId: 'checkout-v2-1',
  service: 'checkout',
  at: 1_700_000_000_000,
  verdict: 'rollback',
  score: 3.4,
  threshold: 3,
  modelVersion: 2,
  explanation: {
    explanation: {
      signals: [{ name: 'errors', endpoint: 'GET /pay', segment: 'eu-west', counts: { errShadowOnly: 31 } }],
    },
    reason: null,
  },
};

/** What `umbra explain 1` must show for it. */
export const DECISION: DecisionView = {
  id: 1,
  deploymentId: 'checkout-v2-1',
  service: 'checkout',
  atMs: 1_700_000_000_000,
  verdict: 'rollback',
  score: 3.4,
  threshold: 3,
  modelVersion: 2,
  explanationJson: JSON.stringify(STORED_DECISION.explanation),
  summary: 'rollback: score 3.40 vs threshold 3; leading signal errors on GET /pay/eu-west',
};

export interface AdminFixture {
  address: string;
  client: AdminClient;
  scheduler: RolloutScheduler;
  repo: ReturnType<typeof storeDeploymentRepo>;
  effects: Effect[];
}

export async function startAdmin(
  t: TestContext,
  over: Partial<AdminServerOptions> = {},
): Promise<AdminFixture> {
  const parsed = parseConfig(CONFIG);
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const services = parsed.config.services;
  const provisioners = new Map<string, Provisioner>(
    services.map((s) => [s.name, createProvisioner(s.provisioner, { service: s.name })]),
  );
  const store = openStore(':memory:');
  store.recordDecision(STORED_DECISION);
  const repo = storeDeploymentRepo(store);
  const effects: Effect[] = [];
  // The daemon's runner; routing and control effects are recorded instead of published.
  const runner = new ControllerEffectRunner({
    routing: {
      apply: async (e) => void effects.push(e),
      publish: async () => undefined,
      route: () => undefined,
    },
    provisioners,
    control: { setControl: () => undefined },
    webhookFor: () => undefined,
    drainMs: 0,
  });
  const scheduler = new RolloutScheduler({ repo, runner });
  scheduler.start();
  const backend = new RolloutAdminBackend({
    services,
    scheduler,
    repo,
    evidence: (s) => (s === 'checkout' ? EVIDENCE : undefined),
    decision: storedDecisions(store),
    pools: (s) => provisioners.get(s)?.status() ?? [],
  });
  const server = await startAdminServer({ backend, token: TOKEN, listen: '127.0.0.1:0', ...over });
  const address = `127.0.0.1:${server.port}`;
  const client = new AdminClient({ address, token: TOKEN });
  t.after(async () => {
    client.close();
    await scheduler.stop();
    await server.close();
    store.close();
  });
  return { address, client, scheduler, repo, effects };
}
