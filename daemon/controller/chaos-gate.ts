/**
 * The evidence of a rollout's chaos step (rollout/chaos-gate.ts): every
 * final second of cells of a service whose deployment is inside the step,
 * counted from the first whole second after the running experiment's faults
 * were on every proxy, is added to that experiment's tally; its verdict so
 * far (chaos/verdict.ts, the same as a chaos experiment's) goes to the
 * machine once a second as a `chaos_verdict` event.
 *
 * Tallies live in memory: after a restart the machine runs the experiment
 * again (rollout/machine.ts, `restarted`).
 */
import type { CellStats } from '../aggregate/stats.js';
import { addCells, type ChaosTally, chaosVerdict, emptyTally } from '../chaos/verdict.js';
import type { ServiceConfig } from '../config/schema.js';
import { logger } from '../log.js';
import type { MixtureAtom } from '../model/model.js';
import { experimentFaults } from '../rollout/chaos-gate.js';
import { inChaosStep } from '../rollout/chaos-step.js';
import type { RolloutScheduler } from '../rollout/scheduler.js';

const log = logger('chaos-gate');

export interface ChaosGateFeedOptions {
  services: ServiceConfig[];
  scheduler: Pick<RolloutScheduler, 'latest' | 'dispatch'>;
  mixture: readonly MixtureAtom[];
}

export class ChaosGateFeed {
  readonly #o: ChaosGateFeedOptions;
  /** Per service: the tally of its running experiment, keyed by deployment and experiment. */
  readonly #tallies = new Map<string, { key: string; tally: ChaosTally }>();

  constructor(o: ChaosGateFeedOptions) {
    this.#o = o;
  }

  /** One final second of cells (all services). */
  onSecond(cells: readonly CellStats[]): void {
    for (const service of this.#o.services) {
      const d = this.#o.scheduler.latest(service.name);
      const faultsOnAt = d?.chaos?.faultsOnAt ?? null;
      if (!d || !inChaosStep(d) || d.paused || faultsOnAt === null) {
        this.#tallies.delete(service.name);
        continue;
      }
      const i = d.chaos!.experiment;
      const key = `${d.id}:${i}:${faultsOnAt}`;
      let t = this.#tallies.get(service.name);
      if (t?.key !== key) {
        t = { key, tally: emptyTally() };
        this.#tallies.set(service.name, t);
      }
      const from = Math.floor(faultsOnAt / 1000) + 1;
      addCells(
        t.tally,
        cells.filter((c) => c.key.second >= from),
        service.name,
      );
      const faults = experimentFaults(d, i);
      const v = chaosVerdict(t.tally, {
        candidate: d.version,
        baseline: d.plan.baseline ? d.previousVersion : null,
        faults,
        threshold: service.judge.anomalyThreshold,
        mixture: this.#o.mixture,
      });
      try {
        this.#o.scheduler.dispatch(d.id, {
          type: 'chaos_verdict',
          experiment: i,
          faults,
          regression: v.regression,
          culprit: v.culprit,
          pairs: v.candidate.pairs,
          explanation: v.explanation,
        });
      } catch (err) {
        log.warn('chaos verdict not applied', { id: d.id, error: (err as Error).message });
      }
    }
  }
}
