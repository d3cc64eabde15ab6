import { intFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ADMIN_FLAGS, ADMIN_FLAGS_USAGE, withAdmin } from './admin-connection.js';
import { outputFlag } from './output.js';
import { renderHistory } from './render.js';

/** `umbra history [SERVICE]`. */
export const historyCommand: Command = {
  path: ['history'],
  summary: 'List past deployments with every transition (the audit log)',
  usage: [
    'Usage: umbra history [SERVICE] [--limit N] [-o json]',
    '',
    'Deployments, newest first, each with its transitions: when, from → to,',
    'what caused it and why.',
    '',
    'Flags:',
    '  --limit N           at most N deployments (default 20)',
    ...ADMIN_FLAGS_USAGE,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, { ...ADMIN_FLAGS, limit: { type: 'string' } });
    const json = outputFlag(flags['output']);
    if (positionals.length > 1) throw new UsageError('expected at most one SERVICE');
    const limit = intFlag(flags['limit'], 'limit', 1, 500) ?? 20;
    return withAdmin(flags, json, async (client) => {
      const entries = await client.history(positionals[0], limit);
      console.log(json ? JSON.stringify({ deployments: entries }) : renderHistory(entries));
      return 0;
    });
  },
};
