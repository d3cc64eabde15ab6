/**
 * Each daemon's watermark on a shared store (merged-seconds.ts): the last
 * second its aggregator closed, saved whenever it moves. The aggregator hands
 * a closed second's cells to its listeners (the store part saves them)
 * before its open second moves on, and this runs on its own timer of the
 * same thread, so a watermark is saved only after the cells it vouches for.
 */
import { logger, rateLimited } from '../log.js';
import type { SharedSeconds } from '../store/pg-shared.js';

const log = logger('ha');

/** Saves `openSecond() − 1` every `everyMs` when it moved; returns the stop function. */
export function startWatermarks(
  seconds: Pick<SharedSeconds, 'saveWatermark'>,
  openSecond: () => number,
  everyMs = 250,
): () => void {
  let saved = Number.NEGATIVE_INFINITY;
  const limit = rateLimited(10_000);
  const timer = setInterval(() => {
    const closed = openSecond() - 1;
    if (!Number.isFinite(closed) || closed <= saved) return;
    try {
      seconds.saveWatermark(closed);
      saved = closed;
    } catch (err) {
      const suppressed = limit('save');
      if (suppressed >= 0)
        log.warn('watermark not saved', { second: closed, error: (err as Error).message, suppressed });
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
