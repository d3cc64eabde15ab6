/**
 * umbrad: the daemon's composition, and nothing else. A daemon is a shared
 * context (config, store, ingest pipeline, metrics, clock; see
 * parts/context.ts) plus an ordered list of parts; parts start in order and
 * stop in reverse order. Adding a capability is one line in
 * {@link defaultParts}. The parts of `umbra daemon`, each in daemon/parts/:
 *
 *   persistStatsPart   store.ts       final per-second cells and histograms into SQLite
 *   telemetryPart      telemetry.ts   the filters' gRPC stream → ingest → pairing → aggregation
 *   clockPart          telemetry.ts   the pipeline's tick (expiry, closing seconds)
 *   metricsPart        metrics.ts     /metrics
 *   retentionPart      store.ts       prunes old cells, histograms and decisions
 *   controllerPart     controller.ts  provisioners, xDS, routing, effects, rollout scheduler, judging
 *   adminPart          admin.ts       the admin API (gRPC, token) over what the controller offers
 *   trainingPart       training.ts    scheduled judge training (when enabled)
 *   leaderPart         leader.ts      with a PostgreSQL store: the lease; the controller, admin,
 *                                     training and retention run only while this daemon leads,
 *                                     a follower's admin API (follower-admin.ts) while it does not
 *   followerXdsPart    xds-share.ts   a follower's xDS server, serving the stored snapshots
 *   followerControlPart follower-control.ts  the leader's stored orders onto a follower's telemetry streams
 *
 * The parts sit above the rooms they compose (store, telemetry, metrics,
 * controller, admin) and import them; nothing below imports a part.
 * A part receives the context in `start` and may publish what it offers on
 * it (the telemetry part sets `ctx.telemetry`, so later parts can send
 * control messages; the controller sets `ctx.controller` for the admin API).
 * Parts never import each other.
 */

import type { UmbraConfig } from './config/schema.js';
import type { LeaderLease } from './ha/lease.js';
import { logger } from './log.js';
import { MetricsRegistry } from './metrics/registry.js';
import { adminPart } from './parts/admin.js';
import type { DaemonPart, UmbradContext } from './parts/context.js';
import { controllerPart } from './parts/controller.js';
import { followerAdminPart } from './parts/follower-admin.js';
import { followerControlPart } from './parts/follower-control.js';
import { leaderPart } from './parts/leader.js';
import { metricsPart } from './parts/metrics.js';
import { persistStatsPart, retentionPart } from './parts/store.js';
import { clockPart, telemetryPart } from './parts/telemetry.js';
import { trainingPart } from './parts/training.js';
import { followerXdsPart } from './parts/xds-share.js';
import type { PostgresStore } from './store/postgres.js';
import type { RetentionPolicy, Store } from './store/store.js';
import { createPipeline, type PipelineOptions, pipelineOptionsFor } from './telemetry/pipeline.js';
import { wallClockUs } from './telemetry/server.js';

const log = logger('umbrad');

export interface UmbradOptions {
  config: UmbraConfig;
  store: Store;
  pipeline?: Partial<PipelineOptions>;
  now?: () => number;
}

export interface Umbrad {
  readonly context: UmbradContext;
  /** Stops all parts in reverse order and closes the store; idempotent. */
  stop(): Promise<void>;
}

/** Builds the context and starts `parts` in order; on a failure stops what started and rethrows. */
export async function startUmbrad(options: UmbradOptions, parts: DaemonPart[]): Promise<Umbrad> {
  const pipeline = createPipeline(options.pipeline ?? pipelineOptionsFor(options.config));
  const context: UmbradContext = {
    config: options.config,
    store: options.store,
    pipeline,
    metrics: new MetricsRegistry(),
    now: options.now ?? wallClockUs,
    bound: {},
    // A listener that fails (a shared store out of reach) is logged; the pipeline and the other listeners go on.
    onCells: (fn) =>
      pipeline.aggregator.onSecond((cells, second, nowUs) => {
        try {
          fn(cells, second, nowUs);
        } catch (err) {
          log.error('a listener of final seconds failed', { second, error: err as Error });
        }
      }),
  };
  const started: DaemonPart[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const p of [...started].reverse()) {
        try {
          await p.stop();
          log.info('part stopped', { part: p.name });
        } catch (err) {
          log.error('part failed to stop', { part: p.name, error: err as Error });
        }
      }
      options.store.close();
    })();
    return stopping;
  };
  for (const p of parts) {
    try {
      started.push(p);
      await p.start(context);
      log.info('part started', { part: p.name });
    } catch (err) {
      log.error('part failed to start', { part: p.name, error: err as Error });
      await stop();
      throw err;
    }
  }
  return { context, stop };
}

/** Options of the parts `umbra daemon` runs. */
export interface PartsOptions {
  /** Overrides daemon.telemetry.listen (`host:port`). */
  telemetryListen?: string;
  /** `host:port` for /metrics; null disables it. */
  metricsListen: string | null;
  /** Writes every received batch to this file (`umbra replay` reads it). */
  recordPath?: string;
  retention: RetentionPolicy;
  /** Clock tick of the pipeline (expiry, closing seconds), ms. */
  tickMs: number;
  /** Stop the service instances the daemon runs when it stops (default: leave them serving). */
  stopInstancesOnExit?: boolean;
  /**
   * Several daemons on one PostgreSQL store (docs/ha.md): the controller,
   * admin API, training and retention run only while this lease is held.
   */
  leadership?: { lease: LeaderLease; store: PostgresStore };
}

export const DEFAULT_PARTS_OPTIONS: PartsOptions = {
  metricsListen: '127.0.0.1:9464',
  retention: { cellsDays: 30, histogramsDays: 30, decisionsDays: 365 },
  tickMs: 250,
};

/** The parts of `umbra daemon`, in start order: one line per capability. */
export function defaultParts(o: PartsOptions): DaemonPart[] {
  if (o.leadership) {
    const { lease, store } = o.leadership;
    return [
      persistStatsPart(),
      telemetryPart(o),
      clockPart(o.tickMs),
      metricsPart(o.metricsListen),
      leaderPart(
        lease,
        store,
        [
          retentionPart(o.retention),
          controllerPart({ stopInstancesOnExit: o.stopInstancesOnExit ?? false }),
          adminPart(),
          trainingPart(),
        ],
        [
          followerAdminPart(lease),
          followerXdsPart(store.xds),
          followerControlPart(store.telemetry, lease.leaseMs),
        ],
      ),
    ];
  }
  return [
    persistStatsPart(),
    telemetryPart(o),
    clockPart(o.tickMs),
    metricsPart(o.metricsListen),
    retentionPart(o.retention),
    controllerPart({ stopInstancesOnExit: o.stopInstancesOnExit ?? false }),
    adminPart(),
    trainingPart(),
  ];
}
