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
 * evidence.
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

/** The seconds a poll may take: up to `upTo` (inclusive), or nothing yet. */
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
  const byAny = Math.max(...closed);
  if (byAll >= next) return { upTo: byAll, behind: [] };
  if (byAny >= next && waitedMs >= leaseMs) {
    const behind = live.filter((m) => m.second === null || m.second < next).map((m) => m.daemon);
    return { upTo: byAny, behind };
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
  /** When a daemon first closed #next while another had not (the wait's start). */
  #waitingSince: number | undefined;
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
    this.#waitingSince = undefined;
    this.stop();
    this.#timer = setInterval(() => this.poll(), this.#o.pollMs ?? 250);
    this.#timer.unref();
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
    const marks = this.#o.seconds.watermarks(this.#o.leaseMs);
    if (this.#next === undefined) {
      const closed = marks.filter((m) => m.live && m.second !== null).map((m) => m.second!);
      if (closed.length === 0) return;
      this.#next = Math.min(...closed) + 1;
    }
    const next = this.#next;
    const waited = this.#waitingSince === undefined ? 0 : this.#now() - this.#waitingSince;
    const ready = readySecond(marks, next, waited, this.#o.leaseMs);
    if (!ready) {
      const byAny = Math.max(...marks.filter((m) => m.live && m.second !== null).map((m) => m.second!));
      if (byAny >= next) this.#waitingSince ??= this.#now();
      return;
    }
    if (ready.behind.length > 0) {
      log.warn('seconds taken without every daemon: waited a lease', {
        from: next,
        to: ready.upTo,
        behind: ready.behind,
      });
    }
    this.#emit(next, ready.upTo);
    this.#next = ready.upTo + 1;
    this.#waitingSince = undefined;
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
