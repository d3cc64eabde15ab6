/**
 * Leadership as a daemon part (several daemons on one PostgreSQL store,
 * docs/ha.md): it campaigns for the lease (ha/lease.ts), fences the store's
 * rollout writes with it, and runs the leader's parts (the controller with
 * its rollout machine, provisioning and judging; the admin API; training;
 * retention) only while this daemon leads. They start, in order, when it
 * takes the lease and stop, in reverse order, when it loses or hands it back;
 * the follower's parts (its admin API) run while it does not lead.
 *
 * On stop it stops the leader's parts first, while their last writes still
 * hold the lease, then hands the lease back so another daemon takes over at
 * once instead of after the lease time.
 */
import type { LeaderLease } from '../ha/lease.js';
import { logger } from '../log.js';
import type { PostgresStore } from '../store/postgres.js';
import type { DaemonPart, UmbradContext } from './context.js';

const log = logger('ha');

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
    await stopAll(started);
    ctx.controller = undefined;
  };

  return {
    name: 'leader',
    async start(ctx) {
      context = ctx;
      store.setFence(() => lease.fence());
      // The follower's parts and the leader's may share addresses (the admin API): one set runs at a time.
      const follow = () => startAll(ctx, followerParts, following, () => !lease.isLeader());
      lease.onChange((leading) => {
        chain = chain.then(async () => {
          if (stopping) return;
          if (leading && lease.isLeader() && started.length === 0) {
            await stopAll(following);
            await startAll(ctx, parts, started, () => lease.isLeader());
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
      await lease.stop();
    },
  };
}
