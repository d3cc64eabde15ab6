/**
 * The leader's view of final seconds on a shared store (docs/ha.md): every
 * daemon aggregates the telemetry streams connected to it and saves its own
 * cells of each second it closes, then its watermark (the last second it
 * closed, watermark.ts). The leader's judge takes a second only once every
 * live daemon's watermark reached it, and then the sum of every daemon's
 * cells of that second (counts add), as one aggregator would have seen them.
 *
 * Bounds: a daemon is live while its lease rounds refresh its row within the
 * lease, so a dead one stops holding seconds back within about a lease of its
 * last round; and no second waits longer than one lease from the moment a
 * first daemon closed it (a live daemon that cannot save its watermark, or
 * one far behind): it is then taken with what the store holds, and the
 * daemons behind are logged. Missing cells only lower counts, never add
 * evidence. Such a take goes only up to the lowest watermark at or past it:
 * a slow daemon delays the others, never truncates them (a second they are
 * about to close waits for them too). A live daemon that has saved no
 * watermark for a lease since this leader first saw it (an older version in
 * a rolling upgrade) is no longer waited for, and logged once.
 */
import type { CellStats } from '../aggregate/stats.js';
import { logger, rateLimited } from '../log.js';
import type { DaemonWatermark, SharedSeconds } from '../store/pg-shared.js';

const log = logger('ha');

export type CellsListener = (cells: CellStats[], second: number, nowUs: number) => void;

export interface MergedSecondsOptions {
  seconds: Pick<SharedSeconds, 'watermarks' | 'cellsBetween'>;
  /** The lease: the liveness window of a daemon, and the longest wait for any second. */
  leaseMs: number;
  /** How often the watermarks are read (default 250 ms). */
  pollMs?: number;
  /** ms, monotonic (default performance.now). */
  now?: () => number;
}

/**
 * The seconds a poll may take: up to `upTo` (inclusive), or nothing yet.
 * `waitedMs`: how long ago a first daemon closed `next`. After a lease the
 * take stops at the lowest watermark at or past `next`, so the daemons that
 * closed it lose none of their cells of the seconds after it.
 */
export function readySecond(
  marks: readonly DaemonWatermark[],
  next: number,
  waitedMs: number,
  leaseMs: number,
): { upTo: number; behind: string[] } | undefined {
  const live = marks.filter((m) => m.live);
  const closed = live.filter((m) => m.second !== null).map((m) => m.second!);
  if (closed.length === 0) return undefined;
  const byAll = closed.length === live.length ? Math.min(...closed) : Number.NEGATIVE_INFINITY;
  if (byAll >= next) return { upTo: byAll, behind: [] };
  const past = closed.filter((s) => s >= next);
  if (past.length > 0 && waitedMs >= leaseMs) {
    const behind = live.filter((m) => m.second === null || m.second < next).map((m) => m.daemon);
    return { upTo: Math.min(...past), behind };
  }
  return undefined;
}

export class MergedSeconds {
  readonly #o: MergedSecondsOptions;
  readonly #listeners: CellsListener[] = [];
  readonly #now: () => number;
  readonly #logLimit = rateLimited(10_000);
  /** The first second not taken yet (undefined: chosen at the first poll that sees a watermark). */
  #next: number | undefined;
  /** When each watermark was first seen (increasing seconds): a second's wait starts at the first entry ≥ it. */
  #firstClosed: { second: number; at: number }[] = [];
  /** Live daemons without a watermark: when this leader first saw each. */
  #nullSince = new Map<string, number>();
  /** The last second final for all (see finalThrough). */
  #final = -1;
  /** Those no longer waited for (logged once each). */
  #ignored = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(o: MergedSecondsOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Subscribes to merged final seconds (shared objects: do not mutate); returns the unsubscribe function. */
  onCells(fn: CellsListener): () => void {
    this.#listeners.push(fn);
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /**
   * Starts polling. The first second taken is the one after the lowest
   * watermark of the live daemons (earlier ones are in the store, where a
   * judge resuming a phase reads them), or `from` when given.
   */
  start(from?: number): void {
    this.#next = from;
    this.#final = from === undefined ? -1 : from - 1;
    this.#firstClosed = [];
    this.#nullSince.clear();
    this.#ignored.clear();
    this.stop();
    this.#timer = setInterval(() => this.poll(), this.#o.pollMs ?? 250);
    this.#timer.unref();
  }

  /**
   * The last second every daemon waited for has closed (or that was taken
   * after a lease's wait), already while its cells are handed on: a judge
   * resuming from the store reads no further, because later seconds may hold
   * only the faster daemons' cells. -1 before the first poll that saw a
   * watermark.
   */
  finalThrough(): number {
    return this.#final;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One round: reads the watermarks and hands every second now ready to the listeners. Never throws. */
  poll(): void {
    try {
      this.#poll();
    } catch (err) {
      const suppressed = this.#logLimit('poll');
      if (suppressed >= 0) log.warn('merged seconds not read', { error: (err as Error).message, suppressed });
    }
  }

  #poll(): void {
    const marks = this.#waitedFor(this.#o.seconds.watermarks(this.#o.leaseMs));
    const closed = marks.filter((m) => m.live && m.second !== null).map((m) => m.second!);
    if (closed.length === 0) return;
    if (this.#next === undefined) this.#next = Math.min(...closed) + 1;
    const next = this.#next;
    this.#final = Math.max(this.#final, next - 1);
    const byAny = Math.max(...closed);
    const last = this.#firstClosed.at(-1);
    if (!last || byAny > last.second) this.#firstClosed.push({ second: byAny, at: this.#now() });
    while (this.#firstClosed.length > 0 && this.#firstClosed[0]!.second < next) this.#firstClosed.shift();
    const since = this.#firstClosed[0]?.at;
    const waited = since === undefined ? 0 : this.#now() - since;
    const ready = readySecond(marks, next, waited, this.#o.leaseMs);
    if (!ready) return;
    if (ready.behind.length > 0) {
      // A daemon stuck behind makes every second wait a lease: logged at most every 10 s.
      const suppressed = this.#logLimit('behind');
      if (suppressed >= 0)
        log.warn('seconds taken without every daemon: waited a lease', {
          from: next,
          to: ready.upTo,
          behind: ready.behind,
          suppressed,
        });
    }
    // Final before they are handed on: a judge whose run starts on one of them replays them whole.
    this.#final = ready.upTo;
    this.#emit(next, ready.upTo);
    this.#next = ready.upTo + 1;
  }

  /** The watermarks of the daemons waited for: without a live one that has saved none for a lease. */
  #waitedFor(marks: DaemonWatermark[]): DaemonWatermark[] {
    const now = this.#now();
    const unmarked = new Set<string>();
    for (const m of marks) {
      if (!m.live || m.second !== null) continue;
      unmarked.add(m.daemon);
      const since = this.#nullSince.get(m.daemon) ?? now;
      this.#nullSince.set(m.daemon, since);
      if (now - since >= this.#o.leaseMs && !this.#ignored.has(m.daemon)) {
        this.#ignored.add(m.daemon);
        log.warn('not waiting for a daemon that saves no watermark (an older version?)', {
          daemon: m.daemon,
          waitedMs: Math.round(now - since),
        });
      }
    }
    for (const d of [...this.#nullSince.keys()]) {
      if (unmarked.has(d)) continue;
      this.#nullSince.delete(d);
      this.#ignored.delete(d);
    }
    return marks.filter((m) => !this.#ignored.has(m.daemon));
  }

  /** Reads seconds [from, upTo] and hands each second with cells to the listeners, in order. */
  #emit(from: number, upTo: number): void {
    const cells = this.#o.seconds.cellsBetween(from, upTo + 1);
    const nowUs = Date.now() * 1000;
    let start = 0;
    for (let i = 1; i <= cells.length; i++) {
      if (i < cells.length && cells[i]!.key.second === cells[start]!.key.second) continue;
      const second = cells[start]!.key.second;
      const group = cells.slice(start, i);
      start = i;
      for (const fn of [...this.#listeners]) {
        try {
          fn(group, second, nowUs);
        } catch (err) {
          log.error('a listener of merged seconds failed', { second, error: err as Error });
        }
      }
    }
  }
}
