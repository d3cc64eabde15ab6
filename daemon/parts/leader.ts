/**
 * Leadership as a daemon part (several daemons on one PostgreSQL store,
 * docs/ha.md): it campaigns for the lease (ha/lease.ts), fences the store's
 * rollout writes with it, and runs the leader's parts (the controller with
 * its rollout machine, provisioning and judging; the admin API; training;
 * retention) only while this daemon leads. They start, in order, when it
 * takes the lease and stop, in reverse order, when it loses or hands it back.
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

export function leaderPart(lease: LeaderLease, store: PostgresStore, parts: DaemonPart[]): DaemonPart {
  const started: DaemonPart[] = [];
  // Changes are applied one at a time, in the order they happen.
  let chain: Promise<void> = Promise.resolve();
  let stopping = false;
  let context: UmbradContext | undefined;

  const stopParts = async (ctx: UmbradContext): Promise<void> => {
    for (const p of started.splice(0).reverse()) {
      try {
        await p.stop();
        log.info('leader part stopped', { part: p.name });
      } catch (err) {
        log.error('leader part failed to stop', { part: p.name, error: err as Error });
      }
    }
    ctx.controller = undefined;
  };

  const startParts = async (ctx: UmbradContext): Promise<void> => {
    for (const p of parts) {
      if (stopping || !lease.isLeader()) return;
      try {
        started.push(p);
        await p.start(ctx);
        log.info('leader part started', { part: p.name });
      } catch (err) {
        log.error('leader part failed to start', { part: p.name, error: err as Error });
        await stopParts(ctx);
        return;
      }
    }
  };

  return {
    name: 'leader',
    async start(ctx) {
      context = ctx;
      store.setFence(() => lease.fence());
      lease.onChange((leading) => {
        chain = chain.then(() => {
          if (stopping) return;
          if (leading && lease.isLeader() && started.length === 0) return startParts(ctx);
          if (!leading && started.length > 0) return stopParts(ctx);
        });
      });
      lease.start();
    },
    async stop() {
      stopping = true;
      await chain;
      if (context) await stopParts(context);
      await lease.stop();
    },
  };
}
