/**
 * The leader's lease in PostgreSQL (table `umbra_lease`, pg-migrations.ts):
 * one row, naming the holder, its admin address, a fencing token and an
 * expiry in the database's own clock. A daemon takes the row when it has
 * expired, and renews it while it holds it; every new term (a new holder, or
 * the same one after its lease lapsed) gets token + 1.
 *
 * Two guards keep two leaders from acting at once:
 *  - locally, the holder counts its lease from the moment it *sent* the
 *    renewal that succeeded, less a margin, so it stops acting before the
 *    database lets anyone else take over;
 *  - in the database, every write of the rollout machine carries the token and
 *    commits only while the row still names this holder with this token and
 *    has not expired (the store's fence, daemon/store/postgres.ts).
 */
import pg from 'pg';
import { logger } from '../log.js';
import type { Fence } from '../store/postgres.js';

const log = logger('ha');

export const LEASE_NAME = 'leader';

export interface LeaseOptions {
  url: string;
  /** This daemon's id (unique among the daemons of the database; its row in `umbra_daemons`). */
  holder: string;
  /** This daemon's admin address, told to the others while it leads. */
  address: string;
  leaseMs: number;
  connectTimeoutMs: number;
}

/** Who leads, as last read. */
export interface LeaderInfo {
  holder: string;
  address: string;
  token: number;
}

const ACQUIRE = `
INSERT INTO umbra_lease AS l (name, holder, address, token, expires_at)
VALUES ($1, $2, $3, 1, clock_timestamp() + $4 * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET
  holder = EXCLUDED.holder,
  address = EXCLUDED.address,
  token = CASE WHEN l.holder = EXCLUDED.holder AND l.token = $5 AND l.expires_at > clock_timestamp()
               THEN l.token ELSE l.token + 1 END,
  expires_at = EXCLUDED.expires_at
WHERE (l.holder = EXCLUDED.holder AND l.token = $5) OR l.expires_at <= clock_timestamp()
RETURNING token`;

const HEARTBEAT = `UPDATE umbra_daemons SET seen_at = clock_timestamp() WHERE id = $1`;

const READ = `SELECT holder, address, token, expires_at > clock_timestamp() AS live FROM umbra_lease WHERE name = $1`;

export class LeaderLease {
  private client: pg.Client | undefined;
  private token = -1;
  /** performance.now() until which this daemon may act as leader. */
  private until = 0;
  private lastLeader: LeaderInfo | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lapse: NodeJS.Timeout | undefined;
  private running = false;
  private round: Promise<void> | undefined;
  private readonly listeners: ((leading: boolean) => void)[] = [];
  private leading = false;

  constructor(private readonly o: LeaseOptions) {}

  /** This daemon's id among the daemons of the database. */
  get holder(): string {
    return this.o.holder;
  }

  /** How long the lease lasts without a renewal, ms. */
  get leaseMs(): number {
    return this.o.leaseMs;
  }

  /** The fence to give the store while leading (the store checks it on every fenced write). */
  fence(): Fence | undefined {
    if (!this.isLeader()) return undefined;
    return { name: LEASE_NAME, holder: this.o.holder, token: this.token };
  }

  isLeader(): boolean {
    return this.token > 0 && performance.now() < this.until;
  }

  /** The leader as last read (this daemon when it leads); undefined when none is live. */
  leader(): LeaderInfo | undefined {
    if (this.isLeader()) return { holder: this.o.holder, address: this.o.address, token: this.token };
    return this.lastLeader;
  }

  /** Calls `fn` whenever this daemon starts or stops leading. */
  onChange(fn: (leading: boolean) => void): void {
    this.listeners.push(fn);
  }

  /** Campaigns: a round now, then every tenth of the lease. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = async (): Promise<void> => {
      await this.tryOnce();
      if (this.running) this.timer = setTimeout(() => void loop(), Math.max(50, this.o.leaseMs / 10));
    };
    void loop();
  }

  /** Stops campaigning and, when leading, hands the lease back (its expiry set to now). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.lapse) clearTimeout(this.lapse);
    await this.round;
    const wasLeader = this.isLeader();
    const token = this.token;
    this.token = -1;
    this.until = 0;
    this.notify();
    if (wasLeader && this.client) {
      await this.client
        .query(
          'UPDATE umbra_lease SET expires_at = clock_timestamp() WHERE name = $1 AND holder = $2 AND token = $3',
          [LEASE_NAME, this.o.holder, token],
        )
        .catch((err: Error) => log.warn('lease not handed back', { error: err.message }));
    }
    // Gone from the live daemons at once: a daemon with another configuration may join.
    await this.client
      ?.query('DELETE FROM umbra_daemons WHERE id = $1', [this.o.holder])
      .catch((err: Error) => log.warn('daemon row not removed', { error: err.message }));
    await this.client?.end().catch(() => {});
    this.client = undefined;
  }

  /** One round: take or renew the lease, else read who holds it. Never throws. */
  tryOnce(): Promise<void> {
    this.round = this.attempt();
    return this.round;
  }

  private async attempt(): Promise<void> {
    const sent = performance.now();
    try {
      const c = await this.connection();
      // The round is also this daemon's heartbeat among the daemons of the database (members.ts).
      await c.query(HEARTBEAT, [this.o.holder]);
      const r = await c.query(ACQUIRE, [
        LEASE_NAME,
        this.o.holder,
        this.o.address,
        this.o.leaseMs,
        this.token,
      ]);
      const row = r.rows[0] as { token: string | number } | undefined;
      if (row) {
        const token = Number(row.token);
        if (token !== this.token) log.info('leading', { holder: this.o.holder, token });
        this.token = token;
        // Counted from before the request left, less a margin for clock rates.
        this.until = sent + this.o.leaseMs - Math.min(this.o.leaseMs / 5, 1000);
        this.armLapse();
      } else {
        this.token = -1;
        this.until = 0;
        const cur = (await c.query(READ, [LEASE_NAME])).rows[0] as
          | { holder: string; address: string; token: string | number; live: boolean }
          | undefined;
        this.lastLeader = cur?.live
          ? { holder: cur.holder, address: cur.address, token: Number(cur.token) }
          : undefined;
      }
    } catch (err) {
      log.warn('lease round failed', { error: (err as Error).message });
      await this.client?.end().catch(() => {});
      this.client = undefined;
      this.lastLeader = undefined;
    }
    this.notify();
  }

  private armLapse(): void {
    if (this.lapse) clearTimeout(this.lapse);
    this.lapse = setTimeout(() => this.notify(), Math.max(0, this.until - performance.now()) + 1);
    this.lapse.unref();
  }

  private notify(): void {
    const now = this.isLeader();
    if (now === this.leading) return;
    this.leading = now;
    if (!now) log.warn('not leading', { holder: this.o.holder });
    for (const fn of this.listeners) fn(now);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const c = new pg.Client({
      connectionString: this.o.url,
      connectionTimeoutMillis: this.o.connectTimeoutMs,
      query_timeout: Math.max(100, Math.floor(this.o.leaseMs / 3)),
      application_name: 'umbrad-lease',
    });
    c.on('error', () => {
      if (this.client === c) this.client = undefined;
    });
    await c.connect();
    this.client = c;
    return c;
  }
}
