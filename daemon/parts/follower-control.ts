/**
 * A follower's side of the leader's orders to the filters (docs/ha.md,
 * ha/control-orders.ts): the stored orders, read every {@link ORDERS_MS},
 * onto the telemetry streams connected to this daemon; mirroring paused on
 * them when the orders cannot be read for longer than a lease.
 */
import { ORDERS_MS, OrderFollower } from '../ha/control-orders.js';
import type { SharedTelemetry } from '../store/pg-shared-telemetry.js';
import type { DaemonPart } from './context.js';

export function followerControlPart(shared: SharedTelemetry, leaseMs: number): DaemonPart {
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'follower-control',
    async start(ctx) {
      const target = ctx.telemetry;
      if (!target) return;
      const follower = new OrderFollower({
        shared,
        target,
        services: ctx.config.services.map((s) => s.name),
        leaseMs,
      });
      follower.poll();
      timer = setInterval(() => follower.poll(), ORDERS_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
