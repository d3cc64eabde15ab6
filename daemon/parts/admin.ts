/**
 * The admin API as a daemon part: serves what the controller part published
 * on the context (deployments, judge evidence, pools, refusals) and the
 * store's decisions, over gRPC with the admin token; and, when
 * `daemon.admin.httpListen` is set, the live page (/ui) with the same token.
 * Starts after the controller, stops before it.
 */
import { storedDecisions } from '../admin/decision-view.js';
import { ExperimentBackend } from '../admin/experiment-backend.js';
import { journeyView } from '../admin/journey-view.js';
import { RolloutAdminBackend } from '../admin/rollout-backend.js';
import { type AdminServer, startAdminServer } from '../admin/server.js';
import { ensureAdminToken } from '../admin/token.js';
import { startUiServer, type UiServer } from '../admin/ui-server.js';
import { joinHostPort, splitHostPort } from '../config/addresses.js';
import { logger } from '../log.js';
import { withLiveScore } from '../report/live.js';
import type { DaemonPart, UmbradContext } from './context.js';

const log = logger('admin');

export function adminPart(): DaemonPart {
  let server: AdminServer | undefined;
  let ui: UiServer | undefined;
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
        experimentRunning: (s) => controller.experiments.running(s),
        deployRefusal: (s, v) => controller.chaos.deployRefusal(s, v),
        proxies: (s) =>
          controller.proxies(s).map((p) => ({
            nodeId: p.nodeId,
            connected: p.connected,
            inSync: p.inSync,
            desiredWeights: p.desired,
            ackedWeights: p.acked ?? {},
            hasAcked: p.acked !== null,
          })),
        journeys: (s) => controller.journeys(s).map(journeyView),
      });
      const token = ensureAdminToken(config.daemon.admin.tokenFile);
      const { httpListen, tls } = config.daemon.admin;
      if (httpListen) {
        const { host, port } = splitHostPort(httpListen);
        ui = await startUiServer({
          store,
          token,
          host,
          port,
          ...(tls ? { tls } : {}),
          held: {
            ab: (s) => controller.experiments.rows(s, Date.now()),
            chaos: (s) => controller.chaos.status(s),
          },
          live: (result, t) => {
            if (!result.ok) return result;
            const d = result.report.deployment;
            return {
              ...result,
              report: withLiveScore(result.report, controller.evidence(d.service), d.phase, t),
            };
          },
        });
      }
      server = await startAdminServer({
        backend,
        experiments: new ExperimentBackend(controller.experiments),
        token,
        chaos: controller.chaos,
        ...(ui ? { uiUrl: ui.url } : {}),
        listen: config.daemon.admin.listen,
        ...(config.daemon.admin.tls ? { tls: config.daemon.admin.tls } : {}),
      });
      ctx.bound['admin'] = joinHostPort(splitHostPort(config.daemon.admin.listen).host, server.port);
      log.info('admin API listening', { port: server.port, tls: Boolean(config.daemon.admin.tls) });
    },
    async stop() {
      await ui?.close();
      await server?.close();
    },
  };
}
