/**
 * The controller as a daemon part: it only wires. Provisioners, the xDS
 * server (wiring.ts), the routing table, the effect runner (effects.ts), the
 * rollout scheduler, the judging loop (judging.ts) and the adaptive share
 * (adaptive.ts, once a second), started in that order
 * over the shared context (see umbrad.ts).
 *
 * On start it brings every service's serving version up (serving.ts;
 * instances a previous daemon left running are adopted), publishes routing,
 * resumes any deployment in progress from the store, and publishes a
 * {@link ControllerHandle} on the context for the admin part. On stop it
 * leaves the instances running unless asked otherwise.
 */
import { join, resolve } from 'node:path';
import { joinHostPort, splitHostPort } from '../config/addresses.js';
import { dependencyEnv } from '../config/dependencies.js';
import { AdaptiveShareLoop } from '../controller/adaptive.js';
import { ChaosRunner } from '../controller/chaos-runner.js';
import { ControllerEffectRunner } from '../controller/effects.js';
import { experimentCollector } from '../controller/experiment-metrics.js';
import { ExperimentDesk } from '../controller/experiments.js';
import { JourneyLoop } from '../controller/journeys.js';
import { JudgingLoop } from '../controller/judging.js';
import { sweepOrphans } from '../controller/orphans.js';
import { feedRefusals, holdOnStanding, rejectedEvent } from '../controller/refusal-feed.js';
import { ProxyRefusals } from '../controller/refusals.js';
import { rolloutCollector } from '../controller/rollout-metrics.js';
import { RoutingTable } from '../controller/routing.js';
import { catchUpMsFor, servingVersion, startServices } from '../controller/serving.js';
import { gatedControl, startXdsServer, telemetryControl, webhookFor } from '../controller/wiring.js';
import { logger } from '../log.js';
import { defaultModel } from '../model/model.js';
import { createProvisioner } from '../provision/factory.js';
import type { PoolRef, Provisioner } from '../provision/provisioner.js';
import { isTerminal } from '../rollout/phases.js';
import { RolloutScheduler } from '../rollout/scheduler.js';
import { storeDeploymentRepo } from '../rollout/store-repo.js';
import { pipelineOptionsFor } from '../telemetry/pipeline.js';
import type { XdsServer } from '../xds/index.js';
import type { OverlayRelay } from '../xds/overlay/relay.js';
import type { DaemonPart, UmbradContext } from './context.js';

const log = logger('controller');

export interface ControllerPartOptions {
  /** Where instance logs go (default next to the store). */
  logDir?: string;
  /**
   * Stop the instances the provisioners run when the daemon stops. Default:
   * leave them serving; the next daemon adopts them.
   */
  stopInstancesOnExit?: boolean;
}

export function controllerPart(o: ControllerPartOptions = {}): DaemonPart {
  let xds: XdsServer | undefined;
  let overlay: OverlayRelay | undefined;
  let scheduler: RolloutScheduler | undefined;
  let unsubscribe: (() => void) | undefined;
  let stopRefusals: (() => void) | undefined;
  let offMetrics: (() => void) | undefined;
  const offEndpointChanges: (() => void)[] = [];
  let offRolloutMetrics: (() => void) | undefined;
  let offOrphans: (() => void) | undefined;
  let journeys: JourneyLoop | undefined;
  let offExperiments: (() => Promise<void>) | undefined;
  let adaptiveTimer: ReturnType<typeof setInterval> | undefined;
  let chaos: ChaosRunner | undefined;
  let experimentDesk: ExperimentDesk | undefined;
  const provisioners = new Map<string, Provisioner>();
  return {
    name: 'controller',
    async start(ctx: UmbradContext) {
      const { config, store } = ctx;
      const services = config.services.map((s) => s.name);
      const logDir = resolve(o.logDir ?? join(config.daemon.store.path, '..', 'instances'));
      for (const s of config.services) {
        const dependencyEnvOf = (ref: PoolRef) => dependencyEnv(s, ref.version, ref.pool);
        provisioners.set(
          s.name,
          createProvisioner(s.provisioner, { service: s.name, logDir, dependencyEnv: dependencyEnvOf }),
        );
      }
      const parts = await startXdsServer(config);
      xds = parts.xds;
      overlay = parts.overlay;
      ctx.bound['xds'] = joinHostPort(splitHostPort(config.daemon.xds.listen).host, xds.port);
      const refusals = new ProxyRefusals(config.services);
      const telemetry = ctx.telemetry;
      const routing = new RoutingTable({
        config,
        xds,
        provisioners,
        ...(overlay ? { overlay } : {}),
        ...(telemetry?.token ? { telemetryToken: telemetry.token } : {}),
        ...(telemetry ? { telemetryPort: telemetry.port } : {}),
      });
      // Pools whose endpoints move on their own (exec; process instances turning healthy or
      // not) are routed where they are now, but only once the services' routing is set
      // (startServices): a publish before it would send the proxies the default, the stable
      // version alone, and drop the clusters a deployment in progress routes users to.
      let routesSet = false;
      let missed = false;
      const republish = (reason: Record<string, unknown>): void => {
        if (!routesSet) {
          missed = true;
          return;
        }
        routing
          .publish()
          .catch((err: Error) =>
            log.warn('routing not republished after an endpoint change', { ...reason, error: err.message }),
          );
      };
      for (const [service, p] of provisioners) {
        const off = p.onEndpointsChange?.((ref) => republish({ service, ...ref }));
        if (off) offEndpointChanges.push(off);
      }
      const control = gatedControl(telemetryControl(telemetry), routing);
      const runner = new ControllerEffectRunner({
        routing,
        provisioners,
        control,
        webhookFor: webhookFor(config),
        alertTimeoutMs: config.daemon.alerts.timeout,
      });
      const repo = storeDeploymentRepo(store);
      const latest = (service: string) => repo.list({ service, limit: 1 })[0];
      stopRefusals = feedRefusals({
        xds,
        // In overlay mode only refusals of Umbra's own edits concern the deployments.
        ...(overlay ? { events: overlay } : {}),
        refusals,
        runner,
        scheduler: () => scheduler,
        services,
        serving: (service) =>
          servingVersion(config.services.find((c) => c.name === service)!, latest(service)),
      });
      offMetrics = ctx.metrics.register(() => refusals.metrics());
      scheduler = new RolloutScheduler({
        repo,
        runner,
        catchUpMs: catchUpMsFor(config),
        standing: (service) => refusals.standing(service).map(rejectedEvent),
      });
      const judging = new JudgingLoop({ services: config.services, scheduler, store });
      const adaptive = new AdaptiveShareLoop({
        scheduler,
        evidence: (s, d) => judging.phaseEvidence(s, d),
        pools: (s) => provisioners.get(s)?.status() ?? [],
      });
      chaos = new ChaosRunner({
        // The last seconds under faults are judged once final: the pipeline's close delay, and a flush.
        drainMs: Math.ceil((pipelineOptionsFor(config).aggregate?.closeDelayUs ?? 0) / 1000) + 2000,
        services: config.services,
        routing,
        provisioners,
        control,
        deploymentInProgress: (service) => {
          const d = latest(service);
          return d && !isTerminal(d.phase) ? { id: d.id, version: d.version, phase: d.phase } : null;
        },
        abRunning: (service) => experimentDesk?.running(service) ?? null,
      });
      const chaosRunner = chaos;
      unsubscribe = ctx.onCells((cells) => {
        judging.onSecond(cells);
        chaosRunner.onSecond(cells);
        adaptive.observe(cells);
      });

      // Serving versions first, so traffic flows before any deployment resumes; one publish for all.
      await startServices({ services: config.services, latest, provisioners, routing, control });
      routesSet = true;
      // An endpoint change while the serving versions came up may postdate their publish.
      if (missed) republish({ at: 'start' });
      scheduler.start();
      const sched = scheduler;
      journeys = new JourneyLoop({
        services: config.services,
        provisioners,
        latest: (service) => sched.latest(service),
        registry: ctx.pipeline.registry,
        aggregator: ctx.pipeline.aggregator,
        nowUs: ctx.now,
      });
      journeys.start();
      const journeyLoop = journeys;
      // The share moves once a second, only after the deployments resumed (events go to started machines).
      if (config.services.some((s) => s.mirroring.adaptive)) {
        adaptiveTimer = setInterval(() => adaptive.tick(services), 1000);
        adaptiveTimer.unref();
      }
      // Refusals that arrived while the serving versions came up hold what resumed.
      holdOnStanding(services, refusals, scheduler);
      const serving = (service: string) =>
        servingVersion(config.services.find((c) => c.name === service)!, latest(service));
      const experiments: ExperimentDesk = new ExperimentDesk({
        services: config.services,
        provisioners,
        routing,
        ...(telemetry ? { setSplit: (s: string, p: number) => telemetry.setSplit(s, p) } : {}),
        registry: ctx.pipeline.registry,
        serving,
        activeDeployment: (service) => {
          const d = latest(service);
          return d && !isTerminal(d.phase) ? { id: d.id, phase: d.phase } : null;
        },
        mixture: defaultModel().params.rateMixture,
        overlay: overlay !== undefined,
        settled: () => scheduler!.idle(),
        chaosRunning: (service) => chaosRunner.running(service),
      });
      experimentDesk = experiments;
      ctx.pipeline.ingest.splitTap = (r) => experiments.onRecord(r);
      const ticker = setInterval(() => {
        try {
          experiments.tick(Date.now());
        } catch (err) {
          log.error('experiment tick failed', { error: err as Error });
        }
      }, 1000);
      ticker.unref();
      const offMetricsExperiments = ctx.metrics.register(experimentCollector(() => experiments.status()));
      offExperiments = async () => {
        clearInterval(ticker);
        ctx.pipeline.ingest.splitTap = null;
        offMetricsExperiments();
        await experiments.idle();
      };
      ctx.controller = {
        experiments,
        scheduler,
        repo,
        evidence: (s) => judging.evidence(s),
        pools: (s) => provisioners.get(s)?.status() ?? [],
        refusals: (s) => refusals.standing(s),
        proxies: (s) => routing.proxies(s),
        journeys: (s) => journeyLoop.status(s),
        chaos,
      };
      offRolloutMetrics = ctx.metrics.register(rolloutCollector(config.services, ctx.controller, store));
      // Pools a previous daemon left that nothing names any more are stopped once the resumed effects ran.
      offOrphans = sweepOrphans({
        services: config.services,
        provisioners,
        routing,
        latest,
        busy: (s) => chaosRunner.running(s) !== undefined || experiments.running(s) !== null,
        settled: () => sched.idle(),
        register: (c) => ctx.metrics.register(c),
      });
      log.info('controller started', {
        xds: xds.port,
        overlay: config.daemon.xds.upstream?.address,
        xdsTls: Boolean(config.daemon.xds.tls),
        services,
      });
    },
    async stop() {
      // Experiments end first: their faults lifted, their pools stopped, production's route as it was.
      await chaos?.close();
      await journeys?.stop();
      unsubscribe?.();
      clearInterval(adaptiveTimer);
      stopRefusals?.();
      offMetrics?.();
      for (const off of offEndpointChanges.splice(0)) off();
      offRolloutMetrics?.();
      offOrphans?.();
      await offExperiments?.();
      await scheduler?.stop();
      overlay?.close();
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
