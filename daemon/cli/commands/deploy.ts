import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ADMIN_FLAGS, ADMIN_FLAGS_USAGE, withAdmin } from './admin-connection.js';
import { outputFlag } from './output.js';
import { phaseText } from './render.js';

/** `umbra deploy SERVICE VERSION`. */
export const deployCommand: Command = {
  path: ['deploy'],
  summary: 'Start shadowing VERSION of SERVICE (then promotion or rollback, automatically)',
  usage: [
    'Usage: umbra deploy SERVICE VERSION [-o json]',
    '',
    'Starts a deployment: VERSION is provisioned, shadowed, judged, and promoted',
    'step by step or rolled back. Refused while SERVICE has a deployment in',
    'progress, or when SERVICE or VERSION is not in the configuration.',
    '',
    'Flags:',
    ...ADMIN_FLAGS_USAGE,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, ADMIN_FLAGS);
    const json = outputFlag(flags['output']);
    if (positionals.length !== 2) throw new UsageError('expected SERVICE and VERSION');
    const [service, version] = positionals as [string, string];
    return withAdmin(flags, json, async (client) => {
      const r = await client.deploy(service, version);
      if (json) console.log(JSON.stringify({ ok: true, ...r }));
      else console.log(`${r.message}: deployment ${r.deployment.id} is ${phaseText(r.deployment)}`);
      return 0;
    });
  },
};
