/**
 * `umbra experiment start|status|stop`: A/B tests through the admin API
 * (docs/experiments.md). The daemon checks every request; a refusal prints
 * its reason and exits 1.
 */
import type { ExperimentView } from '../../admin/experiment-backend.js';
import { parseDuration } from '../../config/duration.js';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ADMIN_FLAGS, ADMIN_FLAGS_USAGE, withAdmin } from './admin-connection.js';
import { outputFlag } from './output.js';

function number(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name}: not a number: ${String(value)}`);
  return n;
}

const fmt = (x: number, digits = 4): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/** One line per experiment for people. */
export function experimentLine(e: ExperimentView): string {
  const answer =
    e.decision === 'undecided'
      ? 'no decision yet'
      : e.decision === 'no_effect'
        ? `no effect as large as ${e.minEffect}`
        : `${e.winner} wins`;
  const state = e.phase === 'stopped' ? `stopped (${e.stopReason})` : e.phase;
  return [
    `${e.id}: ${e.service} ${e.version} (B, ${e.split} % of users) vs ${e.stable} (A), outcome ${e.outcome}: ${state}`,
    `  ${answer}: effect B − A ${fmt(e.effect)}, ${fmt(100 * (1 - e.alpha), 1)} % anytime interval [${fmt(e.ciLow)}, ${fmt(e.ciHigh)}]`,
    `  users A ${e.usersA} (+${e.openUsersA} in their window), B ${e.usersB} (+${e.openUsersB}); mean A ${fmt(e.meanA)}, B ${fmt(e.meanB)}; guard ${fmt(e.guardScore, 2)}`,
  ].join('\n');
}

export const experimentStartCommand: Command = {
  path: ['experiment', 'start'],
  summary: 'Start an A/B test: a share of SERVICE’s users on VERSION, judged and guarded',
  usage: [
    'Usage: umbra experiment start SERVICE VERSION --split P --outcome OUTCOME',
    '         [--window D] [--alpha A] [--min-effect E] [-o json]',
    '',
    'Puts P % of SERVICE’s users (0 < P < 100, by the consistent hash of the',
    'user key of mirroring.userSegment) on VERSION (B) and the rest on the',
    'serving version (A). Refused while SERVICE has a deployment in progress.',
    '',
    'OUTCOME: header:NAME (the share of users whose responses carry NAME > 0),',
    'header:NAME:MAX (the mean per user of the sum of NAME, capped at MAX), or',
    'conversion:/PATH (the share of users who request /PATH…).',
    '',
    'Flags:',
    '  --split P           share of users in B, 0 < P < 100',
    '  --outcome OUTCOME   what a user’s outcome is (see above)',
    '  --window D          how long each user is watched (default 1m)',
    '  --alpha A           false-winner rate allowed, however often looked at (default 0.05)',
    '  --min-effect E      smallest B − A that matters (default 0: any)',
    ...ADMIN_FLAGS_USAGE,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      ...ADMIN_FLAGS,
      split: { type: 'string' },
      outcome: { type: 'string' },
      window: { type: 'string' },
      alpha: { type: 'string' },
      'min-effect': { type: 'string' },
    });
    const json = outputFlag(flags['output']);
    if (positionals.length !== 2) throw new UsageError('expected SERVICE and VERSION');
    const split = number(flags['split'], 'split');
    if (split === undefined) throw new UsageError('--split is required');
    if (typeof flags['outcome'] !== 'string') throw new UsageError('--outcome is required');
    const windowMs = flags['window'] === undefined ? 0 : parseDuration(String(flags['window']));
    if (windowMs === undefined) throw new UsageError(`--window: not a duration: ${String(flags['window'])}`);
    const [service, version] = positionals as [string, string];
    return withAdmin(flags, json, async (client) => {
      const r = await client.experimentStart({
        service,
        version,
        split,
        outcome: flags['outcome'] as string,
        windowMs,
        alpha: number(flags['alpha'], 'alpha') ?? 0,
        minEffect: number(flags['min-effect'], 'min-effect') ?? 0,
      });
      console.log(json ? JSON.stringify({ ok: true, ...r }) : r.message);
      return 0;
    });
  },
};

export const experimentStatusCommand: Command = {
  path: ['experiment', 'status'],
  summary: 'Show A/B tests: the decision, the effect with its interval, users per arm',
  usage: ['Usage: umbra experiment status [SERVICE] [-o json]', '', 'Flags:', ...ADMIN_FLAGS_USAGE].join(
    '\n',
  ),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, ADMIN_FLAGS);
    const json = outputFlag(flags['output']);
    if (positionals.length > 1) throw new UsageError('expected at most SERVICE');
    return withAdmin(flags, json, async (client) => {
      const list = await client.experimentStatus(positionals[0]);
      if (json) console.log(JSON.stringify({ ok: true, experiments: list }));
      else if (list.length === 0) console.log('no experiments');
      else console.log(list.map(experimentLine).join('\n'));
      return 0;
    });
  },
};

export const experimentStopCommand: Command = {
  path: ['experiment', 'stop'],
  summary: 'Stop a service’s A/B test: every user back on the serving version',
  usage: [
    'Usage: umbra experiment stop SERVICE [--reason TEXT] [-o json]',
    '',
    'Flags:',
    '  --reason TEXT       kept with the experiment',
    ...ADMIN_FLAGS_USAGE,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, { ...ADMIN_FLAGS, reason: { type: 'string' } });
    const json = outputFlag(flags['output']);
    if (positionals.length !== 1) throw new UsageError('expected SERVICE');
    return withAdmin(flags, json, async (client) => {
      const r = await client.experimentStop(positionals[0]!, (flags['reason'] as string | undefined) ?? '');
      console.log(
        json ? JSON.stringify({ ok: true, ...r }) : `${r.message}\n${experimentLine(r.experiment)}`,
      );
      return 0;
    });
  },
};
