/**
 * `umbra chaos start|status|stop`: chaos experiments on a service's shadow
 * leg (docs/experiments.md), through the admin API.
 */

import type { ChaosExperimentView } from '../../admin/chaos-api.js';
import type { AdminClient } from '../../admin/client.js';
import { type ChaosPhase, ENDED } from '../../chaos/experiment.js';
import { parseDuration } from '../../config/duration.js';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ADMIN_FLAGS, ADMIN_FLAGS_USAGE, withAdmin } from './admin-connection.js';
import { outputFlag } from './output.js';

/** Exit code of `chaos start --watch` when the experiment failed (a regression with --fail-on-regression). */
const EXIT_FAILED = 3;

/**
 * Exit code of `chaos start --watch` for the experiment as it ended: 3 when it
 * failed, or when it was interrupted (a daemon restart closed it before its
 * window ended) with a regression under --fail-on-regression; else 0.
 */
export function watchExit(e: ChaosExperimentView, failOnRegression: boolean): number {
  if (e.phase === 'failed') return EXIT_FAILED;
  if (e.phase === 'interrupted' && failOnRegression && e.verdict?.regression) return EXIT_FAILED;
  return 0;
}

/** One experiment in a few lines for people. */
export function chaosText(e: ChaosExperimentView): string {
  const lines = [
    `${e.service} ${e.version}: ${e.phase}${e.reason ? ` (${e.reason})` : ''}`,
    `  faults    ${e.faults.join(', ')} for ${Math.round(e.durationMs / 1000)} s, ${e.percentage} % mirrored` +
      (e.baseline ? `, baseline ${e.baseline}` : ', no baseline (compared with production)'),
  ];
  if (e.verdict) lines.push(`  verdict   ${e.verdict.explanation}`);
  return lines.join('\n');
}

/** Polls the service's latest experiment until it has ended (bounded); the experiment as it ended. */
export async function watchChaos(
  client: Pick<AdminClient, 'chaosStatus'>,
  service: string,
  intervalMs: number,
): Promise<ChaosExperimentView> {
  // Bounded: an experiment lasts at most 1 h, plus its start and cleanup.
  const until = Date.now() + 2 * 3_600_000;
  let last: ChaosExperimentView | undefined;
  while (Date.now() < until) {
    last = (await client.chaosStatus(service))[0];
    if (!last || ENDED.has(last.phase as ChaosPhase)) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  if (!last) throw new UsageError(`no chaos experiment on ${service}`);
  return last;
}

const startCommand: Command = {
  path: ['chaos', 'start'],
  summary: "Inject faults into a candidate's world (its dependencies, its replicas), never production's",
  usage: [
    'Usage: umbra chaos start SERVICE VERSION --fault F [--fault F …] [--duration D] [--percentage P]',
    '                         [--fail-on-regression] [--watch] [-o json]',
    '',
    'Runs VERSION beside production on mirrored requests only (and, when the service has a',
    'baseline arm, the serving version the same way), then injects the faults into their',
    "calls and replicas alone, and judges how VERSION took them. Production's routes are",
    'never touched. Refused while SERVICE has a deployment in progress.',
    '',
    'Faults:',
    '  DEP:delay=200ms[@P%]   add latency to P % (default 100) of the calls to dependency DEP',
    '  DEP:abort=503[@P%]     answer P % of the calls to DEP with that status',
    '  reset:P%@DEP           reset the connection of P % of the calls to DEP',
    '  lose-replica=N         stop N of the candidate replicas',
    '',
    'Flags:',
    '  --duration D          how long the faults stay on (default 60s, at most 1h)',
    "  --percentage P        share of requests mirrored (default the service's shadowPercentage)",
    '  --fail-on-regression  a resilience regression fails the experiment and blocks a',
    '                        deployment of VERSION (default: report only)',
    '  --watch               wait for the verdict; exit 0, or 3 when the experiment failed',
    '                        (or was interrupted with a regression under --fail-on-regression)',
    ...ADMIN_FLAGS_USAGE,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      ...ADMIN_FLAGS,
      fault: { type: 'string', multiple: true },
      duration: { type: 'string' },
      percentage: { type: 'string' },
      'fail-on-regression': { type: 'boolean' },
      watch: { type: 'boolean' },
    });
    const json = outputFlag(flags['output']);
    if (positionals.length !== 2) throw new UsageError('expected SERVICE and VERSION');
    const faults = (flags['fault'] as string[] | undefined) ?? [];
    if (faults.length === 0) throw new UsageError('at least one --fault');
    const durationMs = flags['duration'] === undefined ? 0 : parseDuration(String(flags['duration']));
    if (durationMs === undefined)
      throw new UsageError(`--duration must be like 30s or 5m (got ${flags['duration']})`);
    const percentage = flags['percentage'] === undefined ? 0 : Number(flags['percentage']);
    if (!(percentage >= 0 && percentage <= 100)) throw new UsageError('--percentage must be 0..100');
    const [service, version] = positionals as [string, string];
    return withAdmin(flags, json, async (client) => {
      const r = await client.chaosStart({
        service,
        version,
        faults,
        durationMs,
        percentage,
        failOnRegression: Boolean(flags['fail-on-regression']),
      });
      if (!flags['watch']) {
        console.log(json ? JSON.stringify({ ok: true, ...r }) : r.message);
        return 0;
      }
      if (!json) console.log(r.message);
      const e = await watchChaos(client, service, 1000);
      console.log(json ? JSON.stringify({ ok: true, experiment: e }) : chaosText(e));
      return watchExit(e, Boolean(flags['fail-on-regression']));
    });
  },
};

const statusCommand: Command = {
  path: ['chaos', 'status'],
  summary: 'Chaos experiments: phase, faults, verdict so far',
  usage: ['Usage: umbra chaos status [SERVICE] [-o json]', '', 'Flags:', ...ADMIN_FLAGS_USAGE].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, ADMIN_FLAGS);
    const json = outputFlag(flags['output']);
    if (positionals.length > 1) throw new UsageError('expected at most SERVICE');
    return withAdmin(flags, json, async (client) => {
      const experiments = await client.chaosStatus(positionals[0]);
      if (json) console.log(JSON.stringify({ ok: true, experiments }));
      else
        console.log(experiments.length === 0 ? 'no chaos experiment' : experiments.map(chaosText).join('\n'));
      return 0;
    });
  },
};

const stopCommand: Command = {
  path: ['chaos', 'stop'],
  summary: "End a service's chaos experiment now (faults lifted, its pools stopped)",
  usage: ['Usage: umbra chaos stop SERVICE [-o json]', '', 'Flags:', ...ADMIN_FLAGS_USAGE].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, ADMIN_FLAGS);
    const json = outputFlag(flags['output']);
    if (positionals.length !== 1) throw new UsageError('expected SERVICE');
    return withAdmin(flags, json, async (client) => {
      const r = await client.chaosStop(positionals[0]!);
      console.log(json ? JSON.stringify({ ok: true, ...r }) : r.message);
      return 0;
    });
  },
};

export const chaosCommands: Command[] = [startCommand, statusCommand, stopCommand];
