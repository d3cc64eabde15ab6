import { intFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ADMIN_FLAGS, ADMIN_FLAGS_USAGE, withAdmin } from './admin-connection.js';
import { watchDeployment } from './deploy-watch.js';
import { outputFlag } from './output.js';
import { phaseText } from './render.js';

/** `umbra deploy SERVICE VERSION [--watch]`. */
export const deployCommand: Command = {
  path: ['deploy'],
  summary: 'Start shadowing VERSION of SERVICE (then promotion or rollback, automatically)',
  usage: [
    'Usage: umbra deploy SERVICE VERSION [--watch [--interval S]] [-o json]',
    '',
    'Starts a deployment: VERSION is provisioned, shadowed, judged, and promoted',
    'step by step or rolled back. Refused while SERVICE has a deployment in',
    'progress, or when SERVICE or VERSION is not in the configuration.',
    '',
    'With --watch, follows the deployment until it ends: phase, weight, a bar of',
    'the score toward the threshold and the time left in the phase, redrawn in',
    'place on a terminal, plain lines otherwise. Exit code 0: promoted; 3: not',
    'promoted (rolled back, rollback failed, or aborted); 130: interrupted (the',
    'deployment goes on).',
    '',
    'Flags:',
    '  --watch             follow the deployment until it ends (not with -o json)',
    '  --interval S        seconds between refreshes (default 1)',
    ...ADMIN_FLAGS_USAGE,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      ...ADMIN_FLAGS,
      watch: { type: 'boolean' },
      interval: { type: 'string' },
    });
    const json = outputFlag(flags['output']);
    if (positionals.length !== 2) throw new UsageError('expected SERVICE and VERSION');
    const watch = Boolean(flags['watch']);
    if (watch && json)
      throw new UsageError('--watch draws for people; use `umbra status --watch -o json` for JSON');
    if (!watch && flags['interval'] !== undefined) throw new UsageError('--interval needs --watch');
    const intervalMs = (intFlag(flags['interval'], 'interval', 1, 60) ?? 1) * 1000;
    const [service, version] = positionals as [string, string];
    return withAdmin(flags, json, async (client) => {
      const r = await client.deploy(service, version);
      if (json) console.log(JSON.stringify({ ok: true, ...r }));
      else console.log(`${r.message}: deployment ${r.deployment.id} is ${phaseText(r.deployment)}`);
      if (!watch) return 0;
      let stop = false;
      const onSigint = () => {
        stop = true;
      };
      process.once('SIGINT', onSigint);
      try {
        return await watchDeployment(client, service, r.deployment.id, {
          tty: Boolean(process.stdout.isTTY),
          intervalMs,
          write: (text) => process.stdout.write(text),
          stopped: () => stop,
        });
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
  },
};
