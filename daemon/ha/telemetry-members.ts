/**
 * The daemons the proxies send telemetry to, on a shared store
 * (docs/ha.md): each daemon records where the proxies reach its telemetry
 * (`daemon.telemetry.advertise`) in its row of `umbra_daemons`, and the
 * leader lists every live daemon in the proxies' telemetry cluster (EDS),
 * re-read every half lease. A daemon is live while its lease rounds refresh
 * its row within the lease, so a dead one leaves the list within about a
 * lease and a half of its last round; one that stops cleanly removes its
 * row, and leaves at the next read.
 */
import { isIP } from 'node:net';
import { splitHostPort } from '../config/addresses.js';
import { logger, rateLimited } from '../log.js';
import type { SharedTelemetry } from '../store/pg-shared-telemetry.js';
import type { DesiredEndpoint } from '../xds/resources/desired.js';

const log = logger('ha');

export interface TelemetryMembersOptions {
  shared: Pick<SharedTelemetry, 'advertise' | 'members'>;
  /** This daemon's telemetry as the proxies reach it (`host:port`). */
  own: string;
  leaseMs: number;
  /** Whether the members are wanted now (the leader's); the own address is recorded either way. */
  wanted: () => boolean;
}

function endpointOf(address: string): DesiredEndpoint {
  const { host, port } = splitHostPort(address);
  return { address: host, port };
}

function same(a: readonly DesiredEndpoint[], b: readonly DesiredEndpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => e.address === b[i]!.address && e.port === b[i]!.port);
}

export class TelemetryMembers {
  readonly #o: TelemetryMembersOptions;
  #advertised = false;
  #list: DesiredEndpoint[];
  readonly #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  readonly #limit = rateLimited(10_000);

  constructor(o: TelemetryMembersOptions) {
    this.#o = o;
    // Until the first read: this daemon alone.
    this.#list = [endpointOf(o.own)];
  }

  /** The live daemons' telemetry, by daemon id (never empty: this daemon's when nothing could be read). */
  list(): DesiredEndpoint[] {
    return this.#list;
  }

  /** Calls `fn` whenever the list changes; returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Records this daemon's address (until it succeeds once), then reads the members when wanted. Never throws. */
  refresh(): void {
    try {
      if (!this.#advertised) {
        this.#o.shared.advertise(this.#o.own);
        this.#advertised = true;
      }
      if (!this.#o.wanted()) return;
      const read = this.#o.shared.members(this.#o.leaseMs);
      // EDS takes IP addresses only (each daemon's configuration check says so): anything else is left out.
      const next = read
        .map(endpointOf)
        .filter((e) => isIP(e.address) !== 0 && Number.isInteger(e.port) && e.port > 0);
      // Its own row not recorded (yet): the leader still lists itself.
      if (next.length === 0) next.push(endpointOf(this.#o.own));
      if (same(next, this.#list)) return;
      log.info('telemetry members changed', { members: read });
      this.#list = next;
      for (const fn of this.#listeners) fn();
    } catch (err) {
      const suppressed = this.#limit('refresh');
      if (suppressed >= 0)
        log.warn('telemetry members not read; keeping the last', {
          error: (err as Error).message,
          suppressed,
        });
    }
  }

  /** Refreshes now, then every half lease. */
  start(): void {
    this.refresh();
    this.#timer = setInterval(() => this.refresh(), Math.max(100, this.#o.leaseMs / 2));
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
