/**
 * The leader's orders to the filters (percentage, pause, resume, split) on a
 * shared store (docs/ha.md). The leader decides them, but the filters'
 * streams sit on every daemon: the leader stores each service's current
 * order (fenced), and every other daemon reads the orders every
 * {@link ORDERS_MS} and sends what changed on its own streams; a stream
 * that connects to it later gets the current order from its telemetry
 * server, as a stream connecting to the leader does.
 *
 * Stale orders: a daemon that cannot read the orders for longer than a
 * lease no longer knows what the leader wants (a leader may have paused
 * mirroring meanwhile, or a new one taken over). Mirroring is then paused
 * on its streams: a paused filter mirrors nothing and production is
 * untouched, so it is the one order that is always safe. The stored orders
 * apply again once they can be read.
 */
import { logger } from '../log.js';
import type { SharedTelemetry, StoredControl, StoredControlState } from '../store/pg-shared-telemetry.js';
import type { TelemetryServer } from '../telemetry/server.js';

const log = logger('ha');

/** How often a daemon that does not lead reads the leader's orders, ms. */
export const ORDERS_MS = 250;

/** The part of a telemetry server orders go through. */
export type ControlTarget = Pick<
  TelemetryServer,
  'control' | 'setPercentage' | 'pause' | 'resume' | 'setSplit'
>;

/**
 * Sends `want` on `target`'s streams where it differs from what they were
 * last sent (a field never sent differs: a filter may keep what another
 * daemon told it on an earlier stream); returns the orders sent.
 */
export function applyOrder(target: ControlTarget, service: string, want: StoredControlState): number {
  const have = target.control(service);
  let sent = 0;
  if (want.percentage !== undefined && want.percentage !== have.percentage) {
    target.setPercentage(service, want.percentage);
    sent++;
  }
  if (want.paused !== undefined && want.paused !== have.paused) {
    if (want.paused) target.pause(service);
    else target.resume(service);
    sent++;
  }
  if (want.split !== undefined && want.split !== have.split) {
    target.setSplit(service, want.split);
    sent++;
  }
  return sent;
}

/**
 * The leader's telemetry server as the controller sees it: every order goes
 * to its own streams and into the store, whence the other daemons send it
 * on theirs. A store that refuses it is logged (the leader's own streams
 * have it; the others keep the last stored order, and pause once it has
 * been unreadable for a lease).
 */
export function storedOrders(
  telemetry: TelemetryServer,
  shared: Pick<SharedTelemetry, 'saveControl'>,
): TelemetryServer {
  const save = (service: string): void => {
    try {
      shared.saveControl(service, telemetry.control(service));
    } catch (err) {
      log.warn('order to the filters not stored: the other daemons keep the last one', {
        service,
        error: (err as Error).message,
      });
    }
  };
  const stored =
    <A extends unknown[]>(fn: (service: string, ...a: A) => number) =>
    (service: string, ...a: A): number => {
      const n = fn(service, ...a);
      save(service);
      return n;
    };
  return {
    port: telemetry.port,
    ...(telemetry.token !== undefined ? { token: telemetry.token } : {}),
    setPercentage: stored((s, p: number) => telemetry.setPercentage(s, p)),
    pause: stored((s) => telemetry.pause(s)),
    resume: stored((s) => telemetry.resume(s)),
    setSplit: stored((s, p: number) => telemetry.setSplit(s, p)),
    control: (s) => telemetry.control(s),
    close: () => telemetry.close(),
  };
}

export interface OrderFollowerOptions {
  shared: Pick<SharedTelemetry, 'controls'>;
  target: ControlTarget;
  /** The services configured (those paused when the orders go stale). */
  services: readonly string[];
  leaseMs: number;
  /** ms, monotonic (default performance.now). */
  now?: () => number;
}

/** A daemon that does not lead: the stored orders onto its own streams, paused when they go stale. */
export class OrderFollower {
  readonly #o: OrderFollowerOptions;
  readonly #now: () => number;
  #lastRead: number;
  #stale = false;
  /** The seq of each service's order as last applied. */
  readonly #applied = new Map<string, number>();

  constructor(o: OrderFollowerOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
    this.#lastRead = this.#now();
  }

  /** Whether the orders went unread for longer than a lease (mirroring paused here). */
  get stale(): boolean {
    return this.#stale;
  }

  /** One round: read the orders and send what changed; never throws. */
  poll(): void {
    let rows: StoredControl[];
    try {
      rows = this.#o.shared.controls();
    } catch (err) {
      const now = this.#now();
      if (!this.#stale && now - this.#lastRead > this.#o.leaseMs) {
        this.#stale = true;
        this.#applied.clear();
        for (const s of this.#o.services) {
          if (this.#o.target.control(s).paused !== true) this.#o.target.pause(s);
        }
        log.warn('orders to the filters unread for longer than the lease: mirroring paused on this daemon', {
          error: (err as Error).message,
          unreadMs: Math.round(now - this.#lastRead),
        });
      }
      return;
    }
    this.#lastRead = this.#now();
    if (this.#stale) {
      this.#stale = false;
      log.info('orders to the filters read again: the stored ones apply');
    }
    for (const r of rows) {
      if (this.#applied.get(r.service) === r.seq) continue;
      try {
        applyOrder(this.#o.target, r.service, r.state);
        this.#applied.set(r.service, r.seq);
      } catch (err) {
        log.warn('stored order not sent', { service: r.service, error: (err as Error).message });
      }
    }
  }
}
