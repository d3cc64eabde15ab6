/**
 * /metrics for A/B experiments: per service, the latest experiment's phase,
 * its users per arm (with the arm's version), the users left out, the
 * effect and its anytime-valid interval, the decision, and the guard's
 * score. Read from the desk at each scrape; the desk takes its experiments
 * back from the store after a restart, so these survive it.
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
    const dropped: Sample[] = [];
    for (const s of status()) {
      const service = s.spec.service;
      running.push({
        labels: { service, experiment: s.id, version: s.spec.version },
        value: s.phase === 'stopped' ? 0 : 1,
      });
      const a = s.latest?.answer;
      if (!a) continue;
      const versions = { A: s.stable, B: s.spec.version };
      for (const arm of ['A', 'B'] as const)
        users.push({ labels: { service, arm, version: versions[arm] }, value: a.users[arm] });
      for (const [reason, value] of Object.entries(a.dropped))
        dropped.push({ labels: { service, reason }, value });
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
      f(
        'umbra_experiment_dropped_users',
        'Users left out, by reason: switched (seen in both arms), overCap, restart (in their window when the daemon stopped).',
        dropped,
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
