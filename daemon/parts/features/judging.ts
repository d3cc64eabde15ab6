/**
 * The judge and what follows the same final seconds: the judging loop (its
 * verdicts drive the rollout machine), the chaos runner's tally, and the
 * adaptive mirror share, which moves once a second only after the
 * deployments resumed (`startAdaptive`: its events go to started machines).
 */
import { AdaptiveShareLoop } from '../../controller/adaptive.js';
import type { ChaosRunner } from '../../controller/chaos-runner.js';
import { JudgingLoop } from '../../controller/judging.js';
import type { UmbradContext } from '../context.js';
import type { RolloutWiring } from './rollouts.js';
import type { RoutingWiring } from './routing.js';
import type { Teardown } from './teardown.js';

export interface JudgingWiring {
  judging: JudgingLoop;
  /** Starts moving the adaptive share once a second (only where a service asks for it). */
  startAdaptive(): void;
}

export function wireJudging(
  ctx: UmbradContext,
  r: RoutingWiring,
  rollouts: RolloutWiring,
  chaos: ChaosRunner,
  teardown: Teardown,
): JudgingWiring {
  const { config, store } = ctx;
  const judging = new JudgingLoop({
    services: config.services,
    scheduler: rollouts.scheduler,
    store,
    ...(ctx.finalThrough ? { finalThrough: ctx.finalThrough } : {}),
  });
  const adaptive = new AdaptiveShareLoop({
    scheduler: rollouts.scheduler,
    evidence: (s, d) => judging.phaseEvidence(s, d),
    pools: (s) => r.provisioners.get(s)?.status() ?? [],
  });
  teardown.add(
    'cells',
    ctx.onCells((cells) => {
      judging.onSecond(cells);
      chaos.onSecond(cells);
      adaptive.observe(cells);
    }),
  );
  const services = config.services.map((s) => s.name);
  return {
    judging,
    startAdaptive() {
      if (!config.services.some((s) => s.mirroring.adaptive)) return;
      const timer = setInterval(() => adaptive.tick(services), 1000);
      timer.unref();
      teardown.add('adaptive share', () => clearInterval(timer));
    },
  };
}
