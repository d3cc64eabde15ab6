/**
 * Leadership as a daemon part (several daemons on one PostgreSQL store,
 * docs/ha.md): it campaigns for the lease (ha/lease.ts), fences the store's
 * rollout writes with it, and runs the leader's parts (the controller with
 * its rollout machine, provisioning and judging; the admin API; training;
 * retention) only while this daemon leads. They start, in order, when it
 * takes the lease and stop, in reverse order, when it loses or hands it back;
 * the follower's parts (its admin API and xDS server) run while it does not lead.
 *
 * Every daemon saves its watermark of closed seconds (ha/watermark.ts); the
 * leader's parts see final seconds merged from every daemon's cells, each
 * once every live daemon closed it (ha/merged-seconds.ts), instead of the
 * seconds of this daemon's own aggregator. Every daemon records where the
 * proxies reach its telemetry; the leader's routing lists every live daemon
 * in the proxies' telemetry cluster (ha/telemetry-members.ts) and waits for
 * the ACKs of the other daemons' proxies (ha/remote-proxies.ts), and its
 * orders to the filters are also stored, for the other daemons to send on
 * their streams (ha/control-orders.ts).
 *
 * On stop it stops the leader's parts first, while their last writes still
 * hold the lease, then hands the lease back so another daemon takes over at
 * once instead of after the lease time.
 */
import { joinHostPort } from '../config/addresses.js';
import { telemetryAdvertise } from '../config/schema.js';
import { storedOrders } from '../ha/control-orders.js';
import type { LeaderLease } from '../ha/lease.js';
import { type CellsListener, MergedSeconds } from '../ha/merged-seconds.js';
import { RemoteProxyTracker } from '../ha/remote-proxies.js';
import { TelemetryMembers } from '../ha/telemetry-members.js';
import { startWatermarks } from '../ha/watermark.js';
import { shareSnapshots } from '../ha/xds-publish.js';
import { logger } from '../log.js';
import type { PostgresStore } from '../store/postgres.js';
import type { TelemetryServer } from '../telemetry/server.js';
import type { DaemonPart, SharedRouting, UmbradContext } from './context.js';

const log = logger('ha');

/**
 * The context the leader's parts see: the daemon's own, but final seconds come merged from every
 * daemon, and replays of stored seconds stop at the last one every daemon closed.
 */
function mergedContext(
  ctx: UmbradContext,
  merged: MergedSeconds,
  shared: SharedRouting,
  telemetry: TelemetryServer | undefined,
): UmbradContext {
  const onCells = (fn: CellsListener) => merged.onCells(fn);
  const finalThrough = () => merged.finalThrough();
  // Writes (ctx.controller, ctx.bound) land on the daemon's context, where every part reads them.
  return new Proxy(ctx, {
    get: (t, k, r) => {
      if (k === 'onCells') return onCells;
      if (k === 'finalThrough') return finalThrough;
      if (k === 'shared') return shared;
      // Orders to the filters also go to the store: the other daemons send them on their streams.
      if (k === 'telemetry') return telemetry;
      return Reflect.get(t, k, r);
    },
  });
}

export function leaderPart(
  lease: LeaderLease,
  store: PostgresStore,
  parts: DaemonPart[],
  followerParts: DaemonPart[] = [],
): DaemonPart {
  const started: DaemonPart[] = [];
  const following: DaemonPart[] = [];
  // Changes are applied one at a time, in the order they happen.
  let chain: Promise<void> = Promise.resolve();
  let stopping = false;
  let context: UmbradContext | undefined;
  let stopWatermarks: (() => void) | undefined;
  let members: TelemetryMembers | undefined;
  const merged = new MergedSeconds({ seconds: store.seconds, leaseMs: lease.leaseMs });

  /** Stops what `running` holds, in reverse order. */
  const stopAll = async (running: DaemonPart[]): Promise<void> => {
    for (const p of running.splice(0).reverse()) {
      try {
        await p.stop();
        log.info('part stopped', { part: p.name });
      } catch (err) {
        log.error('part failed to stop', { part: p.name, error: err as Error });
      }
    }
  };

  /** Starts `list` in order into `running` while `still()` holds; on a failure stops what started. */
  const startAll = async (
    ctx: UmbradContext,
    list: DaemonPart[],
    running: DaemonPart[],
    still: () => boolean,
  ): Promise<void> => {
    for (const p of list) {
      if (stopping || !still()) return;
      try {
        running.push(p);
        await p.start(ctx);
        log.info('part started', { part: p.name });
      } catch (err) {
        log.error('part failed to start', { part: p.name, error: err as Error });
        await stopAll(running);
        return;
      }
    }
  };

  const stopParts = async (ctx: UmbradContext): Promise<void> => {
    merged.stop();
    await stopAll(started);
    ctx.controller = undefined;
  };

  return {
    name: 'leader',
    async start(ctx) {
      context = ctx;
      store.setFence(() => lease.fence());
      stopWatermarks = startWatermarks(store.seconds, () => ctx.pipeline.aggregator.openSecond);
      const own = telemetryAdvertise(ctx.config.daemon, ctx.telemetry?.port);
      const m = new TelemetryMembers({
        shared: store.telemetry,
        own: joinHostPort(own.host, own.port),
        leaseMs: lease.leaseMs,
        wanted: () => lease.isLeader(),
      });
      members = m;
      m.start();
      const shared: SharedRouting = {
        telemetryMembers: () => m.list(),
        onMembersChange: (fn) => m.onChange(fn),
        remoteProxies: new RemoteProxyTracker(store.xds, lease.leaseMs),
        shareXds: (xds) => shareSnapshots(xds, store.xds),
      };
      const telemetry = ctx.telemetry ? storedOrders(ctx.telemetry, store.telemetry) : undefined;
      const leaderCtx = mergedContext(ctx, merged, shared, telemetry);
      // The follower's parts and the leader's may share addresses (the admin API): one set runs at a time.
      const follow = () => startAll(ctx, followerParts, following, () => !lease.isLeader());
      lease.onChange((leading) => {
        chain = chain.then(async () => {
          if (stopping) return;
          if (leading && lease.isLeader() && started.length === 0) {
            await stopAll(following);
            // The proxies' telemetry cluster lists the live daemons from the first publish on.
            m.refresh();
            merged.start();
            await startAll(leaderCtx, parts, started, () => lease.isLeader());
          } else if (!leading && following.length === 0) {
            await stopParts(ctx);
            await follow();
          }
        });
      });
      chain = chain.then(follow);
      await chain;
      lease.start();
    },
    async stop() {
      stopping = true;
      await chain;
      if (context) await stopParts(context);
      await stopAll(following);
      stopWatermarks?.();
      members?.stop();
      await lease.stop();
    },
  };
}
