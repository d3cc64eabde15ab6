/** Daemon parts (see umbrad.ts) that write to the store: statistics and retention. */
import type { CellStats } from '../aggregate/stats.js';
import { TAIL_SEED_WINDOW_S, tailSeeds } from '../aggregate/tail-seed.js';
import { logger } from '../log.js';
import { storeDeploymentRepo } from '../rollout/store-repo.js';
import type { RetentionPolicy, Store } from '../store/store.js';
import type { DaemonPart, UmbradContext } from './context.js';

const log = logger('store');

/**
 * Saves one final second's cells, each tagged with its service's deployment in
 * progress (none between deployments): a restarted daemon resumes judging a
 * phase from the cells tagged with its deployment, and training reads the
 * cells of finished deployments by that tag.
 */
export function saveTaggedCells(store: Store, cells: CellStats[]): void {
  const byService = new Map<string, CellStats[]>();
  for (const c of cells) {
    const list = byService.get(c.key.service);
    if (list) list.push(c);
    else byService.set(c.key.service, [c]);
  }
  const repo = storeDeploymentRepo(store);
  for (const [service, list] of byService) {
    const active = repo.list({ service, activeOnly: true, limit: 1 })[0];
    store.saveCells(list, active?.id ?? null);
  }
}

/**
 * Seeds the aggregator's tail thresholds from the primary histograms stored
 * in the last hour (see aggregate/tail-seed.ts): a daemon restarted during a
 * validation keeps testing the restored version's tail. Returns how many.
 */
export function seedTailThresholds(
  ctx: Pick<UmbradContext, 'store' | 'pipeline' | 'config' | 'now'>,
): number {
  const agg = ctx.pipeline.aggregator;
  const toMinute = Math.floor(ctx.now() / 60_000) * 60;
  let seeded = 0;
  for (const s of ctx.config.services) {
    try {
      const rows = ctx.store.listHistograms({
        service: s.name,
        fromMinute: toMinute - TAIL_SEED_WINDOW_S,
        toMinute,
        arm: 'primary',
      });
      for (const seed of tailSeeds(rows, agg.options.tailQuantile, agg.options.minTailSamples)) {
        if (agg.seedTail(seed.service, seed.endpoint, seed.thresholdUs)) seeded++;
      }
    } catch (err) {
      log.warn('tail thresholds not read back', { service: s.name, error: (err as Error).message });
    }
  }
  if (seeded > 0) log.info('tail thresholds read back from the store', { endpoints: seeded });
  return seeded;
}

/**
 * Saves every final second's cells and every finished minute's histograms to
 * the store, after reading the last tail thresholds back from it.
 */
export function persistStatsPart(): DaemonPart {
  const offs: (() => void)[] = [];
  return {
    name: 'persist-stats',
    async start(ctx) {
      seedTailThresholds(ctx);
      offs.push(
        ctx.onCells((cells) => {
          try {
            saveTaggedCells(ctx.store, cells);
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
