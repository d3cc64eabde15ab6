/**
 * Scheduled training as a daemon part: every `daemon.training.every`, a new
 * judge model is trained from the store's decided deployments (the judging
 * loop picks a new model version up within a minute). Off unless
 * `daemon.training.enabled`; a failed run is logged and the next one tries again.
 */
import { DEFAULT_JUDGE_PARAMS } from '../judge/index.js';
import { logger } from '../log.js';
import type { Store } from '../store/store.js';
import { trainFromStore } from '../training/sources.js';
import type { DaemonPart, UmbradContext } from './context.js';

const log = logger('training');

/** One scheduled run: trains and logs; never throws. */
export function trainOnce(store: Store, nowMs: number): void {
  try {
    const m = trainFromStore(store, DEFAULT_JUDGE_PARAMS, nowMs, { limit: 200 });
    if (m) log.info('judge model trained', { version: m.version, trainedOn: m.trainedOn });
  } catch (err) {
    log.error('scheduled training failed', { error: (err as Error).message });
  }
}

export function trainingPart(): DaemonPart {
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'training',
    async start(ctx: UmbradContext) {
      const { training } = ctx.config.daemon;
      if (!training.enabled) return;
      timer = setInterval(() => trainOnce(ctx.store, Date.now()), training.every);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
    },
  };
}
