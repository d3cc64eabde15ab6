/**
 * /metrics for A/B experiments: per service, the latest experiment's phase,
 * its users per arm, the effect and its anytime-valid interval, and the
 * guard's score. Read from the desk at each scrape.
 */
import type { Collector, MetricFamily, Sample } from '../metrics/registry.js';
import type { ExperimentStatus } from './experiments.js';

export function experimentCollector(status: () => ExperimentStatus[]): Collector {
  return (): MetricFamily[] => {
    const running: Sample[] = [];
    const users: Sample[] = [];
    const effect: Sample[] = [];
    const ci: Sample[] = [];
    const guard: Sample[] = [];
    const decided: Sample[] = [];
    for (const s of status()) {
      const service = s.spec.service;
      running.push({
        labels: { service, experiment: s.id, version: s.spec.version },
        value: s.phase === 'stopped' ? 0 : 1,
      });
      const a = s.latest?.answer;
      if (!a) continue;
      for (const arm of ['A', 'B'] as const) users.push({ labels: { service, arm }, value: a.users[arm] });
      effect.push({ labels: { service }, value: a.effect });
      ci.push({ labels: { service, bound: 'low' }, value: a.ci[0] });
      ci.push({ labels: { service, bound: 'high' }, value: a.ci[1] });
      decided.push({ labels: { service, decision: a.decision }, value: 1 });
      if (s.latest) guard.push({ labels: { service }, value: s.latest.guard.score });
    }
    const f = (name: string, help: string, samples: Sample[]): MetricFamily => ({
      name,
      help,
      type: 'gauge',
      samples,
    });
    return [
      f(
        'umbra_experiment_running',
        'The latest A/B experiment per service: 1 while it runs, 0 once stopped.',
        running,
      ),
      f(
        'umbra_experiment_users',
        'Users whose outcome window has ended, per arm (A: stable, B: the version tested).',
        users,
      ),
      f('umbra_experiment_effect', 'Mean outcome per user, B − A, in outcome units.', effect),
      f(
        'umbra_experiment_ci',
        'The anytime-valid interval for B − A (bound low or high), in outcome units.',
        ci,
      ),
      f('umbra_experiment_decision', 'What the interval decides now (1 for the current decision).', decided),
      f(
        'umbra_experiment_guard_score',
        "log10 of the guard's evidence that B is worse than A on errors or latency.",
        guard,
      ),
    ];
  };
}
