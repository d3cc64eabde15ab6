/**
 * The admin API as a daemon part: serves what the controller part published
 * on the context (deployments, judge evidence, pools, refusals) and the
 * store's decisions, over gRPC with the admin token. Starts after the
 * controller, stops before it.
 */

import { storedDecisions } from '../admin/decision-view.js';
import { RolloutAdminBackend } from '../admin/rollout-backend.js';
import { type AdminServer, startAdminServer } from '../admin/server.js';
import { ensureAdminToken } from '../admin/token.js';
import { logger } from '../log.js';
import type { DaemonPart, UmbradContext } from './context.js';

const log = logger('admin');

export function adminPart(): DaemonPart {
  let server: AdminServer | undefined;
  return {
    name: 'admin',
    async start(ctx: UmbradContext) {
      const { config, store, controller } = ctx;
      if (!controller) throw new Error('the admin API needs the controller part started before it');
      const backend = new RolloutAdminBackend({
        services: config.services,
        scheduler: controller.scheduler,
        repo: controller.repo,
        evidence: (s) => controller.evidence(s),
        decision: storedDecisions(store),
        pools: (s) => controller.pools(s),
        refusals: (s) => controller.refusals(s),
        proxies: (s) =>
          controller.proxies(s).map((p) => ({
            nodeId: p.nodeId,
            connected: p.connected,
            inSync: p.inSync,
            desiredWeights: p.desired,
            ackedWeights: p.acked ?? {},
            hasAcked: p.acked !== null,
          })),
      });
      server = await startAdminServer({
        backend,
        token: ensureAdminToken(config.daemon.admin.tokenFile),
        listen: config.daemon.admin.listen,
        ...(config.daemon.admin.tls ? { tls: config.daemon.admin.tls } : {}),
      });
      log.info('admin API listening', { port: server.port, tls: Boolean(config.daemon.admin.tls) });
    },
    async stop() {
      await server?.close();
    },
  };
}
