/**
 * The controller as a daemon part: provisioners, the xDS server, the rollout
 * scheduler with its effect runner, the judging loop and the admin API,
 * started in that order over the shared context (see umbrad.ts).
 *
 * On start it brings every service's serving version up (the stable version,
 * or the one the latest deployment left serving; instances a previous daemon
 * left running are adopted), publishes routing, and resumes any deployment in
 * progress from the store. On stop it leaves the instances running.
 */
import { join, resolve } from 'node:path';
import { RolloutAdminBackend } from '../admin/rollout-backend.js';
import { type AdminServer, startAdminServer } from '../admin/server.js';
import { ensureAdminToken } from '../admin/token.js';
import { splitHostPort } from '../config/addresses.js';
import type { ServiceConfig, UmbraConfig } from '../config/schema.js';
import { serverCredentials } from '../config/tls.js';
import { DEFAULT_JUDGE_PARAMS } from '../judge/index.js';
import { logger } from '../log.js';
import { trainFromStore } from '../model/sources.js';
import type { DaemonPart, UmbradContext } from '../part.js';
import { ensureTokenFile } from '../platform/token-file.js';
import { createProvisioner } from '../provision/factory.js';
import type { Provisioner } from '../provision/provisioner.js';
import { desiredEffects } from '../rollout/desired.js';
import { productionReplicasOf } from '../rollout/plan.js';
import { RolloutScheduler } from '../rollout/scheduler.js';
import { storeDeploymentRepo } from '../rollout/store-repo.js';
import type { DeploymentState } from '../rollout/types.js';
import { pipelineOptionsFor } from '../telemetry/pipeline.js';
import { XdsServer } from '../xds/index.js';
import { ControllerEffectRunner, type MirrorControl } from './effects.js';
import { JudgingLoop } from './judging.js';
import { feedRefusals, holdOnStanding, rejectedEvent } from './refusal-feed.js';
import { ProxyRefusals } from './refusals.js';
import { RoutingTable } from './routing.js';

const log = logger('controller');

/**
 * How long the start waits for a deployment's other pools (candidate,
 * baseline) before publishing anyway; the scheduler's effects publish again
 * once they are ready.
 */
const START_POOL_WAIT_MS = 15_000;

/** The version a service serves when no deployment is in progress. */
export function servingVersion(cfg: ServiceConfig, latest: DeploymentState | undefined): string {
  if (!latest) return cfg.stable;
  return latest.phase === 'completed' ? latest.version : latest.previousVersion;
}

/**
 * After a restart, how long until the records the proxies buffered while the
 * daemon was down have been judged: the proxies reconnect (within 2 s), flush
 * (each second), and a second is final after the pipeline's close delay.
 */
export function catchUpMsFor(config: UmbraConfig): number {
  const closeDelayUs = pipelineOptionsFor(config).aggregate?.closeDelayUs ?? 0;
  return Math.ceil(closeDelayUs / 1000) + 2_000 + 1_000 + 2_000;
}

export interface ControllerPartOptions {
  /** Where instance logs go (default next to the store). */
  logDir?: string;
  /**
   * Stop the instances the provisioners run when the daemon stops. Default:
   * leave them serving; the next daemon adopts them.
   */
  stopInstancesOnExit?: boolean;
}

export interface Controller {
  scheduler: RolloutScheduler;
  routing: RoutingTable;
  judging: JudgingLoop;
  xds: XdsServer;
  provisioners: Map<string, Provisioner>;
  adminPort: number;
}

export function controllerPart(
  o: ControllerPartOptions = {},
  onStarted?: (c: Controller) => void,
): DaemonPart {
  let xds: XdsServer | undefined;
  let admin: AdminServer | undefined;
  let scheduler: RolloutScheduler | undefined;
  let unsubscribe: (() => void) | undefined;
  let trainTimer: NodeJS.Timeout | undefined;
  let stopRefusals: (() => void) | undefined;
  let offMetrics: (() => void) | undefined;
  const provisioners = new Map<string, Provisioner>();
  return {
    name: 'controller',
    async start(ctx: UmbradContext) {
      const { config, store } = ctx;
      const logDir = resolve(o.logDir ?? join(config.daemon.store.path, '..', 'instances'));
      for (const s of config.services) {
        provisioners.set(s.name, createProvisioner(s.provisioner, { service: s.name, logDir }));
      }
      const xdsListen = splitHostPort(config.daemon.xds.listen);
      xds = await XdsServer.start({
        host: xdsListen.host,
        port: xdsListen.port,
        credentials: serverCredentials(config.daemon.xds.tls, 'daemon.xds.tls'),
        // Configuration only for the node ids configured (matched exactly), and only with the token when one is set.
        nodes: new Set(config.daemon.xds.nodes),
        ...(config.daemon.xds.tokenFile
          ? { token: ensureTokenFile(config.daemon.xds.tokenFile, 'xds token') }
          : {}),
      });
      const refusals = new ProxyRefusals(config.services);
      const telemetry = ctx.telemetry;
      const routing = new RoutingTable({
        config,
        xds,
        provisioners,
        ...(telemetry?.token ? { telemetryToken: telemetry.token } : {}),
      });
      const control = {
        setControl(service: string, c: MirrorControl) {
          if (!telemetry) return;
          telemetry.setPercentage(service, c.percentage);
          if (c.paused) telemetry.pause(service);
          else telemetry.resume(service);
        },
      };
      const webhookFor = (service: string) =>
        config.services.find((s) => s.name === service)?.alerts.webhook ?? config.daemon.alerts.webhook;
      const runner = new ControllerEffectRunner({
        routing,
        provisioners,
        control,
        webhookFor,
        alertTimeoutMs: config.daemon.alerts.timeout,
      });
      const repo = storeDeploymentRepo(store);
      const servingNow = (service: string): string => {
        const cfg = config.services.find((c) => c.name === service)!;
        return servingVersion(cfg, repo.list({ service, limit: 1 })[0]);
      };
      stopRefusals = feedRefusals({
        xds,
        refusals,
        runner,
        scheduler: () => scheduler,
        services: config.services.map((s) => s.name),
        serving: servingNow,
      });
      offMetrics = ctx.metrics.register(() => refusals.metrics());
      scheduler = new RolloutScheduler({
        repo,
        runner,
        catchUpMs: catchUpMsFor(config),
        standing: (service) => refusals.standing(service).map(rejectedEvent),
      });
      const judging = new JudgingLoop({ services: config.services, scheduler, store });
      unsubscribe = ctx.onCells((cells) => judging.onSecond(cells));

      // Serving versions first, so traffic flows before any deployment resumes.
      const warmups: Promise<unknown>[] = [];
      for (const s of config.services) {
        const latest = repo.list({ service: s.name, limit: 1 })[0];
        const version = servingVersion(s, latest);
        const active =
          latest && !['completed', 'rolled_back', 'rollback_failed', 'aborted'].includes(latest.phase);
        const prov = provisioners.get(s.name)!;
        const pools: Promise<unknown>[] = [
          prov.ensure({ version, pool: 'main' }, productionReplicasOf(s), {
            timeoutMs: s.rollout.provisionTimeout,
          }),
        ];
        if (!active) {
          routing.setServing(s.name, version);
          control.setControl(s.name, { paused: true, percentage: 0 });
        } else {
          // The proxies still run what the deployment routed before the restart: publish that
          // again, once the pools it names are ready, never a default that drops their clusters
          // while the proxies' routes still send traffic there.
          for (const e of desiredEffects(latest)) {
            if (e.kind === 'route') routing.setRoute(e);
            if (e.kind === 'provision' && !(e.version === version && e.pool === 'main'))
              pools.push(
                prov
                  .ensure({ version: e.version, pool: e.pool }, e.replicas, {
                    timeoutMs: Math.min(s.rollout.provisionTimeout, START_POOL_WAIT_MS),
                  })
                  .catch((err: Error) => log.warn('pool not ready at start', { ...e, error: err.message })),
              );
          }
        }
        warmups.push(
          Promise.all(pools)
            .then(() => routing.publish())
            .catch((err: Error) =>
              log.error('serving version not ready', { service: s.name, version, error: err.message }),
            ),
        );
      }
      await Promise.all(warmups);
      scheduler.start();
      // Refusals that arrived while the serving versions came up hold what resumed.
      holdOnStanding(
        config.services.map((s) => s.name),
        refusals,
        scheduler,
      );

      const token = process.env['UMBRA_ADMIN_TOKEN'] ?? ensureAdminToken(config.daemon.admin.tokenFile);
      const backend = new RolloutAdminBackend({
        services: config.services,
        scheduler,
        repo,
        evidence: (s) => judging.evidence(s),
        decision: (id) => {
          const row = store.getDecision(id);
          if (!row) return undefined;
          const ex = row.explanation as {
            explanation?: { signals?: { name: string; endpoint: string; segment: string }[] };
            reason?: string | null;
          };
          const lead = ex?.explanation?.signals?.[0];
          return {
            id: row.id,
            deploymentId: row.deploymentId ?? '',
            service: row.service,
            atMs: row.at,
            verdict: row.verdict,
            score: row.score,
            threshold: row.threshold,
            modelVersion: row.modelVersion ?? 0,
            explanationJson: JSON.stringify(row.explanation),
            summary: `${row.verdict}: score ${row.score.toFixed(2)} vs threshold ${row.threshold}${lead ? `; leading signal ${lead.name} on ${lead.endpoint}/${lead.segment}` : ''}${ex?.reason ? `; ${ex.reason}` : ''}`,
          };
        },
        pools: (s) => provisioners.get(s)?.status() ?? [],
        refusals: (s) => refusals.standing(s),
      });
      admin = await startAdminServer({
        backend,
        token,
        listen: config.daemon.admin.listen,
        ...(config.daemon.admin.tls ? { tls: config.daemon.admin.tls } : {}),
      });
      if (config.daemon.training.enabled) {
        // The judging loop picks a new model version up within a minute.
        trainTimer = setInterval(() => {
          try {
            const m = trainFromStore(store, DEFAULT_JUDGE_PARAMS, Date.now(), { limit: 200 });
            if (m) log.info('judge model trained', { version: m.version, trainedOn: m.trainedOn });
          } catch (err) {
            log.error('scheduled training failed', { error: (err as Error).message });
          }
        }, config.daemon.training.every);
        trainTimer.unref();
      }
      log.info('controller started', {
        xds: xds.port,
        xdsTls: Boolean(config.daemon.xds.tls),
        admin: admin.port,
        services: config.services.map((s) => s.name),
      });
      onStarted?.({ scheduler, routing, judging, xds, provisioners, adminPort: admin.port });
    },
    async stop() {
      if (trainTimer) clearInterval(trainTimer);
      unsubscribe?.();
      stopRefusals?.();
      offMetrics?.();
      await admin?.close();
      await scheduler?.stop();
      await xds?.close();
      // A daemon stop is not an outage: what serves production keeps running unless asked otherwise.
      for (const p of provisioners.values()) {
        await (o.stopInstancesOnExit ? p.close() : p.release()).catch((err: Error) =>
          log.error('provisioner failed to stop', { error: err.message }),
        );
      }
    },
  };
}
