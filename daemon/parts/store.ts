/** Daemon parts (see umbrad.ts) that write to the store: statistics and retention. */
import { logger } from '../log.js';
import type { RetentionPolicy } from '../store/store.js';
import type { DaemonPart } from './context.js';

const log = logger('store');

/** Saves every final second's cells and every finished minute's histograms to the store. */
export function persistStatsPart(): DaemonPart {
  const offs: (() => void)[] = [];
  return {
    name: 'persist-stats',
    async start(ctx) {
      offs.push(
        ctx.onCells((cells) => {
          try {
            ctx.store.saveCells(cells);
          } catch (err) {
            log.error('saving cells failed', { error: err as Error, cells: cells.length });
          }
        }),
        ctx.pipeline.aggregator.onMinute((rows) => {
          try {
            ctx.store.saveHistograms(rows);
          } catch (err) {
            log.error('saving histograms failed', { error: err as Error });
          }
        }),
      );
    },
    async stop() {
      for (const off of offs.splice(0)) off();
    },
  };
}

/** Prunes old per-second and per-minute rows hourly (and once at start). */
export function retentionPart(policy: RetentionPolicy): DaemonPart {
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'retention',
    async start(ctx) {
      const prune = (): void => {
        try {
          ctx.store.prune(policy, Math.floor(ctx.now() / 1000));
        } catch (err) {
          log.error('retention failed', { error: err as Error });
        }
      };
      prune();
      timer = setInterval(prune, 3_600_000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
    },
  };
}
