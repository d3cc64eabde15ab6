/**
 * The live page's reader of a report's bulky inputs: stored cells and
 * decoded histograms are final once written (a second's cells are saved
 * together when it closes, seconds close in order; a minute's histograms
 * when it ends), so each is read from the store and parsed once, and a
 * rebuild every second costs only the new seconds plus the sums. Without
 * it, a report of an hour-long deployment reads and parses ~30,000 cells on
 * every rebuild (bench/report.ts).
 *
 * Bounded: cells of at most {@link MAX_SERVICES} services and
 * {@link MAX_HISTOGRAMS} decoded histograms are kept; beyond that the oldest
 * are dropped and read again when needed.
 */
import type * as hdr from 'hdr-histogram-js';
import type { CellStats } from '../aggregate/stats.js';
import type { HistogramRow } from '../store/store.js';
import type { BulkReader, ReportSource } from './build.js';
import { FRESH_DECODER } from './latency.js';

const MAX_SERVICES = 8;
const MAX_HISTOGRAMS = 4096;

interface ServiceCells {
  /** Ascending by second; every second in [from, next) that has cells is here. */
  cells: CellStats[];
  from: number;
  next: number;
}

/** First index whose second is ≥ `second`. */
function lowerBound(cells: CellStats[], second: number): number {
  let lo = 0;
  let hi = cells.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cells[mid]!.key.second < second) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function cachingReader(store: Pick<ReportSource, 'listCells'>): BulkReader {
  const byService = new Map<string, ServiceCells>();
  const decoded = new Map<string, hdr.Histogram>();

  const cells = (service: string, fromSecond: number, toSecond: number): CellStats[] => {
    let c = byService.get(service);
    if (!c || fromSecond < c.from || fromSecond > c.next) {
      c = { cells: [], from: fromSecond, next: fromSecond };
      byService.delete(service);
      if (byService.size >= MAX_SERVICES) byService.delete(byService.keys().next().value!);
      byService.set(service, c);
    }
    if (toSecond > c.next) {
      const fresh = store.listCells({ service, fromSecond: c.next, toSecond }).map((s) => s.cell);
      for (const cell of fresh) c.cells.push(cell);
      // Seconds close in order and all at once: everything up to the newest one read is complete.
      if (fresh.length > 0) c.next = fresh[fresh.length - 1]!.key.second + 1;
    }
    return c.cells.slice(lowerBound(c.cells, fromSecond), lowerBound(c.cells, toSecond));
  };

  const histograms = {
    decode(row: HistogramRow): hdr.Histogram | null {
      const key = `${row.service}\u0000${row.endpoint}\u0000${row.arm}\u0000${row.minute}\u0000${row.count}`;
      const hit = decoded.get(key);
      if (hit) return hit;
      const h = FRESH_DECODER.decode(row);
      if (!h) return null;
      if (decoded.size >= MAX_HISTOGRAMS) {
        const oldest = decoded.keys().next().value!;
        decoded.get(oldest)?.destroy();
        decoded.delete(oldest);
      }
      decoded.set(key, h);
      return h;
    },
    // Kept for the next rebuild.
    release() {},
  };
  return { cells, histograms };
}
