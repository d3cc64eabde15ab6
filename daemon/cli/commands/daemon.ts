import { parseFlags } from '../args.js';
import type { Command } from '../command.js';

export const daemonCommand: Command = {
  path: ['daemon'],
  summary: 'Run the Umbra daemon (telemetry ingest, judge, rollouts, xDS, admin API)',
  usage: [
    'Usage: umbra daemon [--config FILE]',
    '',
    'Runs umbrad in the foreground until SIGINT/SIGTERM.',
    '',
    'Flags:',
    '  --config FILE   umbra.yaml (default ./umbra.yaml)',
  ].join('\n'),
  async run(argv) {
    parseFlags(argv, { config: { type: 'string' } });
    throw new Error('the daemon has no services wired in this build yet');
  },
};
